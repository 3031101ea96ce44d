//! Reading WAV files into [`Pcm`]: integer PCM of 8–32 bits or 32-bit float, any plausible
//! rate and channel count, whole or chunk by chunk.
//!
//! The header is checked before any audio is read: a rate or channel count no recording
//! has, or a data size larger than the file, is refused with a clear error rather than
//! trusted (a corrupt header must not turn into a multi-gigabyte buffer).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::time::Duration;

use super::encoder::check_input_rate;
use super::pcm::check_channels;
use super::{AudioError, Pcm};

/// Why a WAV file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    /// The file could not be opened or read.
    #[error("cannot read the WAV file: {0}")]
    Io(#[source] std::io::Error),
    /// The bytes are not a well-formed WAV file (or the data ends early).
    #[error("not a readable WAV file: {reason}")]
    Malformed {
        /// What is wrong, in words.
        reason: String,
    },
    /// A well-formed WAV file in a sample format this reader does not convert.
    #[error("unsupported WAV sample format: {reason}")]
    Unsupported {
        /// The format, in words.
        reason: String,
    },
    /// The header's rate or channel count is not one a real recording has.
    #[error("the WAV header is implausible: {0}")]
    Implausible(#[source] AudioError),
    /// The header claims more audio than the file holds.
    #[error("the WAV header claims {claimed} bytes of audio, but the file has only {actual} bytes")]
    Truncated {
        /// Bytes of audio the header claims.
        claimed: u64,
        /// The file's size.
        actual: u64,
    },
}

impl From<hound::Error> for WavError {
    fn from(error: hound::Error) -> Self {
        match error {
            // hound reports data that stops short of what the header declares as an
            // `Other` error with this text, rather than as `UnexpectedEof`.
            hound::Error::IoError(e)
                if e.kind() == std::io::ErrorKind::UnexpectedEof
                    || e.to_string().contains("Failed to read enough bytes") =>
            {
                Self::Malformed {
                    reason: "the audio data ends early".into(),
                }
            }
            hound::Error::IoError(e) => Self::Io(e),
            hound::Error::Unsupported => Self::Unsupported {
                reason: "not integer PCM or 32-bit float".into(),
            },
            other => Self::Malformed {
                reason: other.to_string(),
            },
        }
    }
}

/// How the file stores samples.
#[derive(Debug, Clone, Copy)]
enum Format {
    Float32,
    /// Integer PCM of this many valid bits.
    Int(u16),
}

/// Reads a WAV file chunk by chunk, so a long recording never has to fit in memory.
///
/// ```no_run
/// use kallglot::stream::audio::WavReader;
///
/// # fn main() -> Result<(), kallglot::stream::audio::WavError> {
/// let mut wav = WavReader::open("call.wav")?;
/// println!("{} Hz, {} channel(s), {:?}", wav.sample_rate_hz(), wav.channels(), wav.duration());
/// while let Some(chunk) = wav.read_chunk(wav.sample_rate_hz() as usize / 10)? {
///     // 100 ms of interleaved PCM per chunk
///     # let _ = chunk;
/// }
/// # Ok(()) }
/// ```
pub struct WavReader<R: Read> {
    inner: hound::WavReader<R>,
    format: Format,
    sample_rate_hz: u32,
    channels: u16,
    /// Samples per channel, as the header states.
    declared: u64,
}

impl<R: Read> std::fmt::Debug for WavReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavReader")
            .field("sample_rate_hz", &self.sample_rate_hz)
            .field("channels", &self.channels)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl WavReader<BufReader<File>> {
    /// Opens a WAV file and checks its header, including that the data it declares fits
    /// in the file.
    ///
    /// # Errors
    ///
    /// Any [`WavError`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, WavError> {
        let file = File::open(path).map_err(WavError::Io)?;
        let actual = file.metadata().map_err(WavError::Io)?.len();
        let reader = Self::new(BufReader::new(file))?;
        let spec = reader.inner.spec();
        let claimed = u64::from(reader.inner.len()) * u64::from(spec.bits_per_sample.div_ceil(8));
        if claimed > actual {
            return Err(WavError::Truncated { claimed, actual });
        }
        Ok(reader)
    }
}

impl<R: Read> WavReader<R> {
    /// Reads and checks the header from `reader`.
    ///
    /// # Errors
    ///
    /// Any [`WavError`] but [`WavError::Truncated`], which needs the file size.
    pub fn new(reader: R) -> Result<Self, WavError> {
        let inner = hound::WavReader::new(reader)?;
        let spec = inner.spec();
        check_input_rate(spec.sample_rate).map_err(WavError::Implausible)?;
        check_channels(spec.channels).map_err(WavError::Implausible)?;
        let format = match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, 32) => Format::Float32,
            (hound::SampleFormat::Int, bits @ 1..=32) => Format::Int(bits),
            (format, bits) => {
                return Err(WavError::Unsupported {
                    reason: format!("{format:?}, {bits} bits"),
                });
            }
        };
        let declared = u64::from(inner.len()) / u64::from(spec.channels);
        Ok(Self {
            inner,
            format,
            sample_rate_hz: spec.sample_rate,
            channels: spec.channels,
            declared,
        })
    }

    /// The sample rate, in hertz.
    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// The channel count.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// How long the audio plays, as the header states.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.declared as f64 / f64::from(self.sample_rate_hz))
    }

    /// Reads up to `max_samples_per_channel` samples of every channel, converted to 16-bit;
    /// `None` at the end of the data.
    ///
    /// # Errors
    ///
    /// [`WavError::Malformed`] for damaged data, [`WavError::Io`] for a failed read.
    pub fn read_chunk(&mut self, max_samples_per_channel: usize) -> Result<Option<Pcm>, WavError> {
        let channels = usize::from(self.channels);
        let wanted = max_samples_per_channel.max(1).saturating_mul(channels);
        // Never sized from the header: the samples actually read decide the allocation.
        let mut samples = Vec::with_capacity(wanted.min(64 * 1024));
        match self.format {
            Format::Float32 => {
                for sample in self.inner.samples::<f32>().take(wanted) {
                    samples.push((sample?.clamp(-1.0, 1.0) * 32767.0) as i16);
                }
            }
            Format::Int(bits @ 1..=16) => {
                for sample in self.inner.samples::<i16>().take(wanted) {
                    samples.push(sample? << (16 - bits));
                }
            }
            Format::Int(bits) => {
                for sample in self.inner.samples::<i32>().take(wanted) {
                    samples.push((sample? >> (bits - 16)) as i16);
                }
            }
        }
        // A file cut inside a frame: the incomplete frame cannot be split into channels.
        samples.truncate(samples.len() - samples.len() % channels);
        if samples.is_empty() {
            return Ok(None);
        }
        Pcm::new(samples, self.sample_rate_hz, self.channels)
            .map(Some)
            .map_err(WavError::Implausible)
    }

    /// Reads all the (remaining) audio.
    ///
    /// # Errors
    ///
    /// As [`read_chunk`](Self::read_chunk).
    pub fn read_to_end(mut self) -> Result<Pcm, WavError> {
        let mut samples = Vec::new();
        while let Some(chunk) = self.read_chunk(64 * 1024)? {
            samples.extend_from_slice(chunk.samples());
        }
        Pcm::new(samples, self.sample_rate_hz, self.channels).map_err(WavError::Implausible)
    }
}

/// Reads a whole WAV file into [`Pcm`] (see [`WavReader`] to read it in chunks).
///
/// # Errors
///
/// Any [`WavError`]; an implausible header is refused before any audio is read.
pub fn read_wav(path: impl AsRef<Path>) -> Result<Pcm, WavError> {
    WavReader::open(path)?.read_to_end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A canonical 44-byte header for integer PCM, with `data_bytes` declared.
    fn header(rate: u32, channels: u16, bits: u16, data_bytes: u32) -> Vec<u8> {
        let block_align = channels * bits.div_ceil(8);
        let mut h = Vec::new();
        h.extend(b"RIFF");
        h.extend((36 + data_bytes).to_le_bytes());
        h.extend(b"WAVEfmt ");
        h.extend(16u32.to_le_bytes());
        h.extend(1u16.to_le_bytes());
        h.extend(channels.to_le_bytes());
        h.extend(rate.to_le_bytes());
        h.extend((rate * u32::from(block_align)).to_le_bytes());
        h.extend(block_align.to_le_bytes());
        h.extend(bits.to_le_bytes());
        h.extend(b"data");
        h.extend(data_bytes.to_le_bytes());
        h
    }

    fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let mut bytes = header(rate, channels, 16, (samples.len() * 2) as u32);
        for s in samples {
            bytes.extend(s.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn reads_interleaved_pcm_whole_and_in_chunks() {
        let samples: Vec<i16> = (0..20).map(|i| i * 100).collect();
        let pcm = WavReader::new(Cursor::new(wav(16_000, 2, &samples)))
            .unwrap()
            .read_to_end()
            .unwrap();
        assert_eq!((pcm.sample_rate_hz(), pcm.channels()), (16_000, 2));
        assert_eq!(pcm.samples(), &samples[..]);

        let mut reader = WavReader::new(Cursor::new(wav(16_000, 2, &samples))).unwrap();
        assert_eq!(reader.duration(), Duration::from_micros(625));
        let mut sizes = Vec::new();
        while let Some(chunk) = reader.read_chunk(4).unwrap() {
            sizes.push(chunk.samples_per_channel());
        }
        assert_eq!(sizes, [4, 4, 2]);
    }

    #[test]
    fn implausible_headers_are_refused_before_reading() {
        for (rate, channels) in [(1, 1), (0, 1), (8000, 500), (1_000_000, 1)] {
            let bytes = header(rate, channels, 16, 0);
            match WavReader::new(Cursor::new(bytes)) {
                Err(WavError::Implausible(_) | WavError::Malformed { .. }) => {}
                other => panic!("{rate} Hz, {channels} ch: {other:?}"),
            }
        }
        let err = WavReader::new(Cursor::new(header(1, 1, 16, 0))).unwrap_err();
        assert!(
            err.to_string()
                .contains("1 Hz is not a plausible sample rate"),
            "{err}"
        );
        let err = WavReader::new(Cursor::new(header(8000, 500, 16, 0))).unwrap_err();
        assert!(err.to_string().contains("500 channels"), "{err}");
    }

    #[test]
    fn a_header_claiming_gigabytes_is_not_trusted() {
        // 4 GB declared, 8 bytes present: read from a stream, the data simply ends early
        // (and nothing was allocated for the 4 GB).
        let mut bytes = header(8000, 1, 16, (u32::MAX - 64) & !1);
        bytes.extend([0u8; 8]);
        let err = WavReader::new(Cursor::new(bytes.clone()))
            .unwrap()
            .read_to_end()
            .unwrap_err();
        assert!(matches!(err, WavError::Malformed { .. }), "{err:?}");
        // From a file, the claim is checked against its size before reading.
        let path = std::env::temp_dir().join(format!("kallglot-wav-{}.wav", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let err = read_wav(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(
            matches!(err, WavError::Truncated { actual: 52, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("but the file has only 52 bytes"),
            "{err}"
        );
    }

    #[test]
    fn damaged_and_foreign_files_are_clear_errors() {
        let err = WavReader::new(Cursor::new(b"not a wav file at all".to_vec())).unwrap_err();
        assert!(matches!(err, WavError::Malformed { .. }), "{err:?}");
        let err = read_wav("/nonexistent/call.wav").unwrap_err();
        assert!(matches!(err, WavError::Io(_)), "{err:?}");
    }
}
