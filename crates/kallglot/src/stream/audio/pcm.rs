//! Interleaved 16-bit PCM of any rate and channel count, and getting it into μ-law frames.

use std::time::Duration;

use super::encoder::check_input_rate;
use super::{AudioError, FrameEncoder, MulawAudio};

/// The lowest sample rate accepted for conversion, in hertz. Below it nothing is real
/// audio, and upsampling to 8 kHz would multiply the data many times over.
pub const MIN_INPUT_HZ: u32 = 4_000;

/// The most channels accepted. Call recordings have one or two; 64 leaves room for
/// multitrack sources while refusing headers that are plainly corrupt.
pub const MAX_CHANNELS: u16 = 64;

/// 16-bit PCM: interleaved samples (`L, R, L, R, …` for stereo), their rate and their
/// channel count. What [`read_wav`](super::read_wav) returns.
///
/// ```
/// use kallglot::stream::audio::Pcm;
///
/// # fn main() -> Result<(), kallglot::stream::audio::AudioError> {
/// // 1 s of stereo at 16 kHz: the agent on the left, silence on the right.
/// let samples: Vec<i16> = (0..16_000).flat_map(|i| [(i % 100) as i16 * 100, 0]).collect();
/// let call = Pcm::new(samples, 16_000, 2)?;
/// let agent = call.channel(0)?.to_mulaw_frames(100)?;
/// assert_eq!(agent.len(), 10); // ten 100 ms frames of 8 kHz μ-law
/// let mixed = call.to_mulaw_frames(100)?; // both channels averaged
/// assert_eq!(mixed.len(), 10);
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Pcm {
    samples: Vec<i16>,
    sample_rate_hz: u32,
    channels: u16,
}

impl Pcm {
    /// Interleaved PCM with `channels` channels at `sample_rate_hz`.
    ///
    /// # Errors
    ///
    /// A rate outside [`MIN_INPUT_HZ`]`..=`[`MAX_RESAMPLE_INPUT_HZ`](super::MAX_RESAMPLE_INPUT_HZ),
    /// a channel count outside `1..=`[`MAX_CHANNELS`], or a sample count that is not a
    /// multiple of the channel count.
    pub fn new(samples: Vec<i16>, sample_rate_hz: u32, channels: u16) -> Result<Self, AudioError> {
        check_input_rate(sample_rate_hz)?;
        check_channels(channels)?;
        if !samples.len().is_multiple_of(usize::from(channels)) {
            return Err(AudioError::PartialFrame {
                len: samples.len(),
                channels,
            });
        }
        Ok(Self {
            samples,
            sample_rate_hz,
            channels,
        })
    }

    /// Mono PCM at `sample_rate_hz`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn mono(samples: Vec<i16>, sample_rate_hz: u32) -> Result<Self, AudioError> {
        Self::new(samples, sample_rate_hz, 1)
    }

    /// The interleaved samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Consumes the PCM, returning its interleaved samples.
    pub fn into_samples(self) -> Vec<i16> {
        self.samples
    }

    /// The sample rate, in hertz.
    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// The channel count.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Samples per channel.
    pub fn samples_per_channel(&self) -> usize {
        self.samples.len() / usize::from(self.channels)
    }

    /// Whether there is no audio.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// How long the audio plays.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples_per_channel() as f64 / f64::from(self.sample_rate_hz))
    }

    /// The channels averaged into one (rounded toward zero, so no DC offset is added).
    pub fn to_mono(&self) -> Pcm {
        let channels = usize::from(self.channels);
        let samples = if channels == 1 {
            self.samples.clone()
        } else {
            self.samples
                .chunks_exact(channels)
                .map(|frame| {
                    // The mean of i16 values always fits in an i16.
                    (frame.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32) as i16
                })
                .collect()
        };
        Pcm {
            samples,
            sample_rate_hz: self.sample_rate_hz,
            channels: 1,
        }
    }

    /// Channel `index` alone, as mono (0 is the first: the left of a stereo file).
    ///
    /// # Errors
    ///
    /// [`AudioError::NoSuchChannel`] if there is no such channel.
    pub fn channel(&self, index: u16) -> Result<Pcm, AudioError> {
        if index >= self.channels {
            return Err(AudioError::NoSuchChannel {
                index,
                channels: self.channels,
            });
        }
        let samples = self
            .samples
            .iter()
            .skip(usize::from(index))
            .step_by(usize::from(self.channels))
            .copied()
            .collect();
        Ok(Pcm {
            samples,
            sample_rate_hz: self.sample_rate_hz,
            channels: 1,
        })
    }

    /// The whole clip as stream-ready frames of `frame_ms`: mixed to mono, resampled to
    /// 8 kHz and μ-law encoded. The last frame may be shorter.
    ///
    /// # Errors
    ///
    /// [`AudioError::FrameDurationOutOfRange`] for a frame length outside 20–200 ms.
    pub fn to_mulaw_frames(&self, frame_ms: u32) -> Result<Vec<MulawAudio>, AudioError> {
        let mut encoder = FrameEncoder::new(frame_ms)?;
        let mono;
        let samples = if self.channels == 1 {
            &self.samples
        } else {
            mono = self.to_mono();
            &mono.samples
        };
        encoder.push_pcm(samples, self.sample_rate_hz)?;
        let mut frames = Vec::new();
        while let Some(frame) = encoder.next_frame() {
            frames.push(frame);
        }
        frames.extend(encoder.finish());
        Ok(frames)
    }
}

impl std::fmt::Debug for Pcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The length and shape, not megabytes of samples.
        f.debug_struct("Pcm")
            .field("sample_rate_hz", &self.sample_rate_hz)
            .field("channels", &self.channels)
            .field("samples", &self.samples.len())
            .finish()
    }
}

pub(super) fn check_channels(channels: u16) -> Result<(), AudioError> {
    if (1..=MAX_CHANNELS).contains(&channels) {
        Ok(())
    } else {
        Err(AudioError::ChannelCount { got: channels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implausible_shapes_are_refused() {
        assert_eq!(
            Pcm::new(vec![0; 4], 1, 1),
            Err(AudioError::SampleRateTooLow {
                got: 1,
                min: MIN_INPUT_HZ
            })
        );
        assert_eq!(
            Pcm::new(vec![], 8000, 0),
            Err(AudioError::ChannelCount { got: 0 })
        );
        assert_eq!(
            Pcm::new(vec![], 8000, 65_535),
            Err(AudioError::ChannelCount { got: 65_535 })
        );
        assert_eq!(
            Pcm::new(vec![0; 3], 8000, 2),
            Err(AudioError::PartialFrame {
                len: 3,
                channels: 2
            })
        );
    }

    #[test]
    fn channels_split_and_mix() {
        let pcm = Pcm::new(vec![100, -100, 300, 1, -5, 7], 8000, 2).unwrap();
        assert_eq!(pcm.samples_per_channel(), 3);
        assert_eq!(pcm.channel(0).unwrap().samples(), &[100, 300, -5]);
        assert_eq!(pcm.channel(1).unwrap().samples(), &[-100, 1, 7]);
        assert_eq!(
            pcm.channel(2),
            Err(AudioError::NoSuchChannel {
                index: 2,
                channels: 2
            })
        );
        assert_eq!(pcm.to_mono().samples(), &[0, 150, 1]);
        assert_eq!(pcm.duration(), Duration::from_micros(375));
        assert_eq!(
            format!("{pcm:?}"),
            "Pcm { sample_rate_hz: 8000, channels: 2, samples: 6 }"
        );
    }

    #[test]
    fn a_clip_becomes_frames_at_8k() {
        let pcm = Pcm::new(vec![0; 2 * 44_100 * 3 / 2], 44_100, 2).unwrap();
        let frames = pcm.to_mulaw_frames(200).unwrap();
        // 1.5 s: seven 200 ms frames and a 100 ms one.
        let sizes: Vec<usize> = frames.iter().map(MulawAudio::len).collect();
        assert_eq!(sizes, [1600, 1600, 1600, 1600, 1600, 1600, 1600, 800]);
    }
}
