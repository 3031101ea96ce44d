//! PCM of any rate (and μ-law) in, evenly sized μ-law frames out: the resampler, the
//! encoder and the framer chained for one speaker's audio.

use super::pcm::MIN_INPUT_HZ;
use super::{AudioError, Framer, MAX_RESAMPLE_INPUT_HZ, MulawAudio, Resampler};

/// Turns one speaker's audio, chunk by chunk, into μ-law frames for the stream.
///
/// Push mono 16-bit PCM at any rate from [`MIN_INPUT_HZ`] to [`MAX_RESAMPLE_INPUT_HZ`]
/// (the rate may change between chunks) or audio already in μ-law, take whole frames with
/// [`next_frame`](Self::next_frame), and at the end send what [`finish`](Self::finish)
/// returns. Order is kept: the few milliseconds the resampler holds back are flushed before
/// any μ-law chunk, on a change of rate, and at the end.
///
/// ```
/// use kallglot::stream::audio::FrameEncoder;
///
/// # fn main() -> Result<(), kallglot::stream::audio::AudioError> {
/// let mut encoder = FrameEncoder::default(); // 100 ms frames
/// encoder.push_pcm(&vec![0_i16; 16_000], 16_000)?; // one second at 16 kHz
/// let mut frames = Vec::new();
/// while let Some(frame) = encoder.next_frame() {
///     frames.push(frame);
/// }
/// frames.extend(encoder.finish());
/// assert_eq!(frames.iter().map(|f| f.len()).sum::<usize>(), 8000);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct FrameEncoder {
    framer: Framer,
    resampler: Option<Resampler>,
    /// Reused between chunks, so steady streaming allocates nothing for resampled PCM.
    scratch: Vec<i16>,
}

impl FrameEncoder {
    /// An encoder producing frames of `frame_ms` milliseconds.
    ///
    /// # Errors
    ///
    /// [`AudioError::FrameDurationOutOfRange`] as for [`Framer::new`].
    pub fn new(frame_ms: u32) -> Result<Self, AudioError> {
        Ok(Self {
            framer: Framer::new(frame_ms)?,
            resampler: None,
            scratch: Vec::new(),
        })
    }

    /// Appends mono 16-bit PCM sampled at `sample_rate_hz`.
    ///
    /// # Errors
    ///
    /// [`AudioError::ZeroSampleRate`], [`AudioError::SampleRateTooLow`] or
    /// [`AudioError::SampleRateTooHigh`] for a rate outside the accepted range; nothing is
    /// buffered then.
    pub fn push_pcm(&mut self, samples: &[i16], sample_rate_hz: u32) -> Result<(), AudioError> {
        check_input_rate(sample_rate_hz)?;
        if self.resampler.as_ref().map(Resampler::from_hz) != Some(sample_rate_hz) {
            let resampler = Resampler::new(sample_rate_hz)?;
            self.flush_resampler();
            self.resampler = Some(resampler);
        }
        self.scratch.clear();
        if let Some(resampler) = self.resampler.as_mut() {
            resampler.process(samples, &mut self.scratch);
        }
        self.push_scratch();
        Ok(())
    }

    /// Appends audio already in μ-law at 8 kHz.
    pub fn push_mulaw(&mut self, audio: &MulawAudio) {
        self.flush_resampler();
        self.framer.push(audio);
    }

    /// Takes the next whole frame, or `None` if less than a frame is buffered.
    pub fn next_frame(&mut self) -> Option<MulawAudio> {
        self.framer.next_frame()
    }

    /// Ends the audio: returns what is still buffered (shorter than a frame once every
    /// whole frame has been taken), or `None`. The encoder is then empty and can be reused.
    pub fn finish(&mut self) -> Option<MulawAudio> {
        self.flush_resampler();
        let fresh = Framer::new(self.framer.frame_ms()).unwrap_or_default();
        std::mem::replace(&mut self.framer, fresh).finish()
    }

    fn flush_resampler(&mut self) {
        if let Some(mut resampler) = self.resampler.take() {
            self.scratch.clear();
            resampler.flush(&mut self.scratch);
            self.push_scratch();
        }
    }

    fn push_scratch(&mut self) {
        if !self.scratch.is_empty() {
            self.framer.push(&MulawAudio(super::encode(&self.scratch)));
        }
    }
}

/// Accepts the rates the encoder converts from.
pub(super) fn check_input_rate(sample_rate_hz: u32) -> Result<(), AudioError> {
    match sample_rate_hz {
        0 => Err(AudioError::ZeroSampleRate),
        got if got < MIN_INPUT_HZ => Err(AudioError::SampleRateTooLow {
            got,
            min: MIN_INPUT_HZ,
        }),
        got if got > MAX_RESAMPLE_INPUT_HZ => Err(AudioError::SampleRateTooHigh {
            got,
            max: MAX_RESAMPLE_INPUT_HZ,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::audio::{SAMPLE_RATE_HZ, resample_to_8k};

    #[test]
    fn chunks_of_changing_rates_and_mulaw_keep_their_order() {
        let mut encoder = FrameEncoder::new(20).unwrap();
        encoder.push_pcm(&vec![1000; 1600], 16_000).unwrap();
        encoder.push_mulaw(&MulawAudio::from_mulaw_bytes(vec![0x00; 80]));
        encoder.push_pcm(&vec![-1000; 480], 48_000).unwrap();
        let mut bytes = Vec::new();
        while let Some(frame) = encoder.next_frame() {
            assert_eq!(frame.len(), 160);
            bytes.extend(frame.into_bytes());
        }
        bytes.extend(encoder.finish().unwrap().into_bytes());
        // 100 ms at 16 kHz, 10 ms of μ-law, 10 ms at 48 kHz: 800 + 80 + 80 bytes, in order.
        assert_eq!(bytes.len(), 960);
        let expected_first =
            super::super::encode(&resample_to_8k(&vec![1000; 1600], 16_000).unwrap());
        assert_eq!(&bytes[..800], &expected_first[..]);
        assert!(bytes[800..880].iter().all(|&b| b == 0x00));
        assert!(encoder.finish().is_none(), "empty after finish");
    }

    #[test]
    fn unusable_rates_are_errors_and_buffer_nothing() {
        let mut encoder = FrameEncoder::default();
        assert_eq!(
            encoder.push_pcm(&[1, 2], 0),
            Err(AudioError::ZeroSampleRate)
        );
        assert_eq!(
            encoder.push_pcm(&[1, 2], 1),
            Err(AudioError::SampleRateTooLow {
                got: 1,
                min: MIN_INPUT_HZ
            })
        );
        assert!(matches!(
            encoder.push_pcm(&[1, 2], 1_000_000),
            Err(AudioError::SampleRateTooHigh { .. })
        ));
        assert!(encoder.finish().is_none());
        assert!(FrameEncoder::new(500).is_err());
        assert_eq!(SAMPLE_RATE_HZ, 8000);
    }
}
