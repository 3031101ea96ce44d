//! Reading WAV files into 16-bit mono PCM, whatever their sample format and channels.

use std::path::Path;

/// Mono 16-bit audio and its sample rate.
pub struct Pcm {
    pub samples: Vec<i16>,
    pub sample_rate_hz: u32,
}

impl Pcm {
    /// Duration in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate_hz.max(1))
    }
}

/// Reads a WAV file: integer PCM of 8–32 bits or 32-bit float, any channel count
/// (averaged to mono), any sample rate (resampled later by the SDK's resampler).
pub fn read(path: &Path) -> Result<Pcm, String> {
    let reader = hound::WavReader::open(path)
        .map_err(|e| format!("{}: not a readable WAV file: {e}", path.display()))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(format!("{}: the WAV header is invalid", path.display()));
    }
    let bad = |e: hound::Error| format!("{}: damaged WAV data: {e}", path.display());
    let interleaved: Vec<i16> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader
            .into_samples::<f32>()
            .map(|s| s.map(|v| (v.clamp(-1.0, 1.0) * 32767.0) as i16))
            .collect::<Result<_, _>>()
            .map_err(bad)?,
        (hound::SampleFormat::Int, bits @ 1..=16) => reader
            .into_samples::<i16>()
            .map(|s| s.map(|v| v << (16 - bits)))
            .collect::<Result<_, _>>()
            .map_err(bad)?,
        (hound::SampleFormat::Int, bits @ 17..=32) => reader
            .into_samples::<i32>()
            .map(|s| s.map(|v| (v >> (bits - 16)) as i16))
            .collect::<Result<_, _>>()
            .map_err(bad)?,
        (format, bits) => {
            return Err(format!(
                "{}: unsupported WAV sample format ({format:?}, {bits} bits)",
                path.display()
            ));
        }
    };
    let channels = usize::from(spec.channels);
    let samples = if channels == 1 {
        interleaved
    } else {
        interleaved
            .chunks_exact(channels)
            .map(|frame| {
                (frame.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32) as i16
            })
            .collect()
    };
    Ok(Pcm {
        samples,
        sample_rate_hz: spec.sample_rate,
    })
}
