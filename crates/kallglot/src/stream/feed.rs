//! Feeding [`Sessions::stream_audio`](crate::resources::Sessions::stream_audio): input
//! chunks become per-speaker μ-law frames, paced in real time on each speaker's own
//! timeline, then the session is ended.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

use super::audio::{AudioError, FrameEncoder, MulawAudio, Pcm};
use super::{Pacing, StreamError, StreamSender, deadline_after};
use crate::model::Speaker;

/// One chunk of input audio for [`Sessions::stream_audio`](crate::resources::Sessions::stream_audio).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AudioChunk {
    /// 16-bit mono PCM at any sample rate from
    /// [`MIN_INPUT_HZ`](super::audio::MIN_INPUT_HZ); it is resampled to 8 kHz and μ-law
    /// encoded.
    Pcm16 {
        /// The samples.
        samples: Vec<i16>,
        /// Their sample rate in Hz.
        sample_rate_hz: u32,
    },
    /// Audio already in μ-law at 8 kHz mono.
    Mulaw(MulawAudio),
}

impl From<Pcm> for AudioChunk {
    /// PCM of any channel count, mixed to mono. Use [`PartyChunk::per_channel`] to keep
    /// the channels apart as separate speakers instead.
    fn from(pcm: Pcm) -> Self {
        let mono = if pcm.channels() == 1 {
            pcm
        } else {
            pcm.to_mono()
        };
        let sample_rate_hz = mono.sample_rate_hz();
        Self::Pcm16 {
            samples: mono.into_samples(),
            sample_rate_hz,
        }
    }
}

impl From<MulawAudio> for AudioChunk {
    fn from(audio: MulawAudio) -> Self {
        Self::Mulaw(audio)
    }
}

/// A chunk of audio and whose voice it carries: the item of a two-party
/// [`stream_audio`](crate::resources::Sessions::stream_audio). A bare [`AudioChunk`]
/// converts into one with no speaker, which means the stream's default speaker.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PartyChunk {
    /// Who is speaking; `None` for [`StreamOptions::speaker`](super::StreamOptions::speaker).
    pub speaker: Option<Speaker>,
    /// The audio.
    pub chunk: AudioChunk,
}

impl PartyChunk {
    /// `chunk`, spoken by `speaker`.
    pub fn new(speaker: Speaker, chunk: impl Into<AudioChunk>) -> Self {
        Self {
            speaker: Some(speaker),
            chunk: chunk.into(),
        }
    }

    /// Splits multi-channel PCM into the parties' chunks: channel `i` is spoken by
    /// `speakers[i]` (a stereo call recording is typically `[Speaker::Agent,
    /// Speaker::Customer]`); channels beyond `speakers` are left out. The chunks come in
    /// blocks of [`PARTY_BLOCK`], alternating between the parties, so that real-time
    /// pacing sends both parties side by side.
    ///
    /// # Errors
    ///
    /// [`AudioError::NoSuchChannel`] when there are more speakers than channels.
    pub fn per_channel(pcm: &Pcm, speakers: &[Speaker]) -> Result<Vec<Self>, AudioError> {
        let channels = usize::from(pcm.channels());
        if speakers.len() > channels {
            return Err(AudioError::NoSuchChannel {
                index: pcm.channels(),
                channels: pcm.channels(),
            });
        }
        let per_block = (u128::from(pcm.sample_rate_hz()) * PARTY_BLOCK.as_millis() / 1000).max(1);
        let per_block = usize::try_from(per_block).unwrap_or(usize::MAX);
        let mut parties = Vec::new();
        for block in pcm.samples().chunks(per_block.saturating_mul(channels)) {
            for (index, speaker) in speakers.iter().enumerate() {
                let samples = block
                    .iter()
                    .skip(index)
                    .step_by(channels)
                    .copied()
                    .collect();
                parties.push(Self::new(
                    speaker.clone(),
                    AudioChunk::Pcm16 {
                        samples,
                        sample_rate_hz: pcm.sample_rate_hz(),
                    },
                ));
            }
        }
        Ok(parties)
    }
}

/// How much audio of each party one chunk from [`PartyChunk::per_channel`] holds.
pub const PARTY_BLOCK: Duration = Duration::from_millis(100);

impl From<AudioChunk> for PartyChunk {
    fn from(chunk: AudioChunk) -> Self {
        Self {
            speaker: None,
            chunk,
        }
    }
}

impl From<(Speaker, AudioChunk)> for PartyChunk {
    fn from((speaker, chunk): (Speaker, AudioChunk)) -> Self {
        Self::new(speaker, chunk)
    }
}

/// One speaker's audio on its way out.
struct Party {
    speaker: Speaker,
    encoder: FrameEncoder,
    /// Audio sent so far: the speaker's position on its timeline.
    sent: Duration,
}

/// Sends frames, each no earlier than its place on its speaker's timeline.
struct Pacer<'a> {
    sender: &'a StreamSender,
    pacing: Pacing,
    /// When the first frame went out; every timeline counts from there.
    start: Option<Instant>,
}

impl Pacer<'_> {
    /// Sends `frame` for `party` when it is due; `false` once the stream has stopped.
    async fn send(&mut self, party: &mut Party, frame: MulawAudio) -> bool {
        let start = *self.start.get_or_insert_with(Instant::now);
        if let Some(due) = self.pacing.due(party.sent) {
            tokio::time::sleep_until(deadline_after(start, due)).await;
        }
        party.sent = party.sent.saturating_add(frame.duration());
        self.sender
            .send_audio_as(party.speaker.clone(), frame)
            .await
            .is_ok()
    }

    /// Waits until the longest timeline has played out, so `session.end` follows the
    /// last frame in real time rather than cutting it short.
    async fn play_out(&self, parties: &[Party]) {
        let longest = parties.iter().map(|p| p.sent).max().unwrap_or_default();
        if let (Some(start), Some(due)) = (self.start, self.pacing.due(longest)) {
            tokio::time::sleep_until(deadline_after(start, due)).await;
        }
    }
}

/// Feeds `audio` into the stream, then ends the session. A chunk that cannot be converted
/// ends the stream with its error instead.
pub(crate) async fn run<S, I>(sender: StreamSender, audio: S, pacing: Pacing)
where
    S: Stream<Item = I>,
    I: Into<PartyChunk>,
{
    let mut pacer = Pacer {
        sender: &sender,
        pacing,
        start: None,
    };
    let mut parties: Vec<Party> = Vec::new();
    let mut audio = std::pin::pin!(audio);
    while let Some(item) = audio.next().await {
        let PartyChunk { speaker, chunk } = item.into();
        let speaker = speaker.unwrap_or_else(|| sender.speaker.clone());
        let index = match parties.iter().position(|p| p.speaker == speaker) {
            Some(index) => index,
            None => {
                parties.push(Party {
                    speaker,
                    encoder: FrameEncoder::default(),
                    sent: Duration::ZERO,
                });
                parties.len() - 1
            }
        };
        let party = &mut parties[index];
        let pushed = match chunk {
            AudioChunk::Pcm16 {
                samples,
                sample_rate_hz,
            } => party.encoder.push_pcm(&samples, sample_rate_hz),
            AudioChunk::Mulaw(audio) => {
                party.encoder.push_mulaw(&audio);
                Ok(())
            }
        };
        if let Err(e) = pushed {
            sender.fail(StreamError::Audio(e)).await;
            return;
        }
        while let Some(frame) = party.encoder.next_frame() {
            if !pacer.send(party, frame).await {
                return;
            }
        }
    }
    for party in &mut parties {
        if let Some(rest) = party.encoder.finish()
            && !pacer.send(party, rest).await
        {
            return;
        }
    }
    pacer.play_out(&parties).await;
    if let Err(e) = sender.end().await {
        tracing::debug!(error = %e, "ending the stream after the input ended failed");
    }
}
