//! Audio for the real-time stream: G.711 μ-law, 8 kHz, mono — and the tools to get there.
//!
//! The stream accepts exactly one inbound format. Every `audio.input` message carries
//! base64 G.711 μ-law sampled at 8 kHz on a single channel, and the server answers anything
//! else with `session.error` `invalid_audio_format` — usually after the call has started, when
//! the failure is most expensive. So the format is enforced here, in the types: the stream
//! sends [`MulawAudio`], and a `MulawAudio` can only be built from μ-law bytes the caller
//! vouches for ([`MulawAudio::from_mulaw_bytes`]) or from 16-bit PCM that is already at
//! [`SAMPLE_RATE_HZ`] ([`MulawAudio::from_pcm16`], which refuses every other rate).
//!
//! Getting arbitrary PCM into that shape:
//!
//! 1. stereo → mono with [`downmix_stereo`];
//! 2. any other sample rate → 8 kHz with [`resample_to_8k`] (a whole clip) or a
//!    [`Resampler`] (a live stream, chunk by chunk);
//! 3. 8 kHz PCM → μ-law with [`MulawAudio::from_pcm16`];
//! 4. μ-law → evenly sized frames of 20–200 ms with a [`Framer`].
//!
//! Or all of it at once: a [`FrameEncoder`] takes mono PCM at any rate (and μ-law) chunk by
//! chunk and hands out frames, and [`Pcm`] holds interleaved PCM of any channel count, with
//! [`Pcm::to_mulaw_frames`] for a whole clip. [`read_wav`] and [`WavReader`] read WAV
//! files into [`Pcm`], refusing headers no real recording has.
//!
//! ```
//! use kallglot::stream::audio::{Framer, MulawAudio, SAMPLE_RATE_HZ, resample_to_8k};
//!
//! # fn main() -> Result<(), kallglot::stream::audio::AudioError> {
//! let pcm_48k = vec![0_i16; 48_000]; // one second of silence at 48 kHz
//! let pcm_8k = resample_to_8k(&pcm_48k, 48_000)?;
//! let audio = MulawAudio::from_pcm16(&pcm_8k, SAMPLE_RATE_HZ)?;
//!
//! let mut framer = Framer::default(); // 100 ms frames
//! framer.push(&audio);
//! let mut frames = 0;
//! while let Some(frame) = framer.next_frame() {
//!     assert_eq!(frame.len(), 800);
//!     frames += 1;
//! }
//! assert_eq!(frames, 10);
//! assert!(framer.finish().is_none());
//! # Ok(()) }
//! ```

mod encoder;
mod pcm;
mod wav;

pub use encoder::FrameEncoder;
pub use pcm::{MAX_CHANNELS, MIN_INPUT_HZ, Pcm};
pub use wav::{WavError, WavReader, read_wav};

use std::collections::VecDeque;
use std::f64::consts::PI;
use std::fmt;
use std::time::Duration;

/// The only sample rate the stream accepts, in hertz.
pub const SAMPLE_RATE_HZ: u32 = 8000;

/// μ-law bytes per millisecond of audio: one byte per sample at [`SAMPLE_RATE_HZ`].
pub const BYTES_PER_MS: u32 = SAMPLE_RATE_HZ / 1000;

/// Frame duration a [`Framer`] uses unless told otherwise, in milliseconds.
///
/// The API reference has clients send a chunk roughly every 100–200 ms; 100 ms keeps added
/// latency low without flooding the socket with tiny messages.
pub const DEFAULT_FRAME_MS: u32 = 100;

/// Shortest frame a [`Framer`] will produce, in milliseconds.
pub const MIN_FRAME_MS: u32 = 20;

/// Longest frame a [`Framer`] will produce, in milliseconds.
pub const MAX_FRAME_MS: u32 = 200;

/// Highest input rate [`Resampler`] and [`resample_to_8k`] accept, in hertz.
///
/// The anti-aliasing filter grows with the input rate, so an absurd rate would mean an absurd
/// filter; 384 kHz is the highest rate real audio hardware produces.
pub const MAX_RESAMPLE_INPUT_HZ: u32 = 384_000;

/// Why audio could not be prepared for the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// PCM at a rate other than 8000 Hz was offered where only 8 kHz is accepted.
    #[error(
        "the stream only accepts 8000 Hz audio, but this PCM is {got} Hz; convert it first with \
         `resample_to_8k` (or a `Resampler` for a live stream)"
    )]
    UnsupportedSampleRate {
        /// The rate that was offered, in hertz.
        got: u32,
    },
    /// A sample rate of zero was given.
    #[error("a sample rate of 0 Hz is not valid")]
    ZeroSampleRate,
    /// The resampler was asked to convert from a rate above [`MAX_RESAMPLE_INPUT_HZ`].
    #[error("cannot resample from {got} Hz: the highest supported input rate is {max} Hz")]
    SampleRateTooHigh {
        /// The rate that was offered, in hertz.
        got: u32,
        /// The highest rate accepted ([`MAX_RESAMPLE_INPUT_HZ`]).
        max: u32,
    },
    /// A frame duration outside [`MIN_FRAME_MS`]`..=`[`MAX_FRAME_MS`] was requested.
    #[error("a frame of {got_ms} ms is outside the allowed range of {min}..={max} ms", min = MIN_FRAME_MS, max = MAX_FRAME_MS)]
    FrameDurationOutOfRange {
        /// The requested duration, in milliseconds.
        got_ms: u32,
    },
    /// A sample rate below [`MIN_INPUT_HZ`]: no real recording is that slow, and converting
    /// it would multiply its size many times over.
    #[error("{got} Hz is not a plausible sample rate: the lowest accepted is {min} Hz")]
    SampleRateTooLow {
        /// The rate that was offered, in hertz.
        got: u32,
        /// The lowest rate accepted ([`MIN_INPUT_HZ`]).
        min: u32,
    },
    /// PCM with no channels, or more than [`MAX_CHANNELS`].
    #[error("{got} channels is not a plausible channel count (1..={max} are accepted)", max = MAX_CHANNELS)]
    ChannelCount {
        /// The channel count that was offered.
        got: u16,
    },
    /// Interleaved PCM whose length is not a whole number of frames of all channels.
    #[error("{len} samples cannot be split evenly into {channels} channels")]
    PartialFrame {
        /// How many samples were given.
        len: usize,
        /// The channel count.
        channels: u16,
    },
    /// A channel was asked for that the audio does not have.
    #[error("channel {index} was asked for, but the audio has {channels} channel(s)")]
    NoSuchChannel {
        /// The channel asked for (0 is the first).
        index: u16,
        /// How many channels the audio has.
        channels: u16,
    },
    /// 16-bit PCM bytes whose count is odd, so they cannot be whole samples.
    #[error("16-bit PCM needs an even number of bytes, but got {len}")]
    OddByteCount {
        /// How many bytes were given.
        len: usize,
    },
}

// ---------------------------------------------------------------------------------------------
// G.711 μ-law codec
// ---------------------------------------------------------------------------------------------

/// Added to the magnitude before segmenting. G.711's μ-law segments are defined on
/// `|x| + 33` in the standard's 14-bit scale; 16-bit PCM is that scale times four, hence 132.
/// The bias is what makes every segment start at a power of two, so the segment number is
/// just the position of the highest set bit.
const BIAS: i32 = 0x84;

/// Largest magnitude that still fits once biased: `32635 + 132 = 32767`. It is the standard's
/// overload point (8159 in 14-bit units) times four, rounded to stay within `i16`.
const CLIP: i32 = 32635;

/// Segment (exponent) of a biased magnitude, indexed by `biased >> 7`.
///
/// After biasing, segment `e` covers `[128 << e, 256 << e)`, so `biased >> 7` lies in
/// `[1 << e, 2 << e)` and the segment is the index of its highest set bit. A table turns that
/// bit search into a single load, which is the classic way μ-law encoders are written.
const EXPONENT_TABLE: [u8; 256] = build_exponent_table();

/// Linear value of every μ-law code, so decoding is a single load.
const DECODE_TABLE: [i16; 256] = build_decode_table();

/// Computes [`EXPONENT_TABLE`] at compile time: `floor(log2(i))`, with 0 for index 0 (which
/// biased input never reaches, since the smallest biased magnitude is 132).
const fn build_exponent_table() -> [u8; 256] {
    let mut table = [0_u8; 256];
    let mut i = 1;
    while i < 256 {
        // `i` fits in a u8, whose highest set bit is 7 - leading_zeros.
        table[i] = 7 - (i as u8).leading_zeros() as u8;
        i += 1;
    }
    table
}

/// Computes [`DECODE_TABLE`] at compile time with the G.711 expansion formula.
const fn build_decode_table() -> [i16; 256] {
    let mut table = [0_i16; 256];
    let mut code = 0;
    while code < 256 {
        // Codes are transmitted with every bit inverted (so that silence is not a long run of
        // zero bits, which old T1 lines could not carry); undo that first.
        let u = !(code as u8);
        let exponent = ((u >> 4) & 0x07) as i32;
        let mantissa = (u & 0x0F) as i32;
        // Rebuild the middle of the quantization interval: mantissa bits under the implicit
        // leading one (which the bias provides), shifted into the segment, minus the bias.
        let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
        table[code] = if u & 0x80 != 0 {
            -magnitude as i16
        } else {
            magnitude as i16
        };
        code += 1;
    }
    table
}

/// Encodes one 16-bit linear PCM sample as a G.711 μ-law code.
///
/// This is the ITU-T G.711 μ-law compander applied to 16-bit input in the usual way: the
/// magnitude is clipped to 32635, biased by 132, split into a 3-bit segment and a 4-bit step
/// within it, and the sign, segment and step are packed into a byte whose bits are all
/// inverted. Zero encodes as `0xFF`, full-scale positive as `0x80`, full-scale negative as
/// `0x00`.
///
/// ```
/// use kallglot::stream::audio;
///
/// assert_eq!(audio::encode_sample(0), 0xFF);
/// assert_eq!(audio::encode_sample(i16::MAX), 0x80);
/// assert_eq!(audio::encode_sample(i16::MIN), 0x00);
/// ```
#[inline]
pub fn encode_sample(sample: i16) -> u8 {
    let sample = i32::from(sample);
    let sign: i32 = if sample < 0 { 0x80 } else { 0 };
    // Widened to i32 first so that |-32768| does not overflow.
    let biased = sample.abs().min(CLIP) + BIAS;
    // biased <= 32767, so biased >> 7 <= 255: always in the table.
    let exponent = i32::from(EXPONENT_TABLE[(biased >> 7) as usize]);
    // The four bits just below the segment's leading one; the rest is truncated, which is
    // what places the decoder's output in the middle of the interval.
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Decodes one G.711 μ-law code to 16-bit linear PCM.
///
/// Returns the middle of the code's quantization interval, per G.711. The two zero codes,
/// `0xFF` ("+0") and `0x7F` ("−0"), both decode to 0; the extremes are ±32124.
///
/// ```
/// use kallglot::stream::audio;
///
/// assert_eq!(audio::decode_sample(0xFF), 0);
/// assert_eq!(audio::decode_sample(0x80), 32124);
/// // Decoding an encoded sample lands close to it: μ-law keeps about 14 bits of range.
/// let back = audio::decode_sample(audio::encode_sample(1000));
/// assert!((i32::from(back) - 1000).abs() < 40);
/// ```
#[inline]
pub fn decode_sample(code: u8) -> i16 {
    DECODE_TABLE[usize::from(code)]
}

/// Encodes 16-bit linear PCM as G.711 μ-law, one byte per sample.
///
/// ```
/// use kallglot::stream::audio;
///
/// let pcm = [0i16, 1000, -1000];
/// let mulaw = audio::encode(&pcm);
/// assert_eq!(mulaw.len(), pcm.len());
/// assert_eq!(mulaw[0], 0xFF);
/// ```
pub fn encode(pcm: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pcm.len());
    encode_into(pcm, &mut out);
    out
}

/// Encodes 16-bit linear PCM as G.711 μ-law, appending to `out`.
///
/// Lets a caller reuse one buffer across chunks instead of allocating per chunk.
///
/// ```
/// use kallglot::stream::audio;
///
/// let mut out = Vec::new();
/// for chunk in [[0i16; 160], [0i16; 160]] {
///     audio::encode_into(&chunk, &mut out); // one buffer for every chunk
/// }
/// assert_eq!(out.len(), 320);
/// ```
pub fn encode_into(pcm: &[i16], out: &mut Vec<u8>) {
    out.reserve(pcm.len());
    out.extend(pcm.iter().map(|&sample| encode_sample(sample)));
}

/// Decodes G.711 μ-law to 16-bit linear PCM, one sample per byte.
///
/// ```
/// use kallglot::stream::audio;
///
/// let pcm = audio::decode(&[0xFF, 0x7F, 0x80]);
/// assert_eq!(pcm, [0, 0, 32124]);
/// ```
pub fn decode(mulaw: &[u8]) -> Vec<i16> {
    mulaw.iter().map(|&code| decode_sample(code)).collect()
}

// ---------------------------------------------------------------------------------------------
// MulawAudio
// ---------------------------------------------------------------------------------------------

/// Audio the stream accepts: G.711 μ-law bytes, 8 kHz, mono, one byte per sample.
///
/// The bytes are private and every constructor either converts to this format or has the
/// caller state that the bytes are in it already, so a value of this type is always safe to
/// send. `Debug` prints the length and duration rather than kilobytes of audio.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct MulawAudio(Vec<u8>);

impl MulawAudio {
    /// Encodes mono 16-bit PCM that is already at 8 kHz.
    ///
    /// `sample_rate_hz` is required, and checked, so that 16 or 48 kHz audio cannot slip
    /// through by accident: it would be accepted by the encoder but played back at the wrong
    /// speed and pitch, and recognised poorly.
    ///
    /// # Errors
    ///
    /// [`AudioError::UnsupportedSampleRate`] for any rate other than [`SAMPLE_RATE_HZ`] —
    /// convert with [`resample_to_8k`] or a [`Resampler`] first — and
    /// [`AudioError::ZeroSampleRate`] for 0.
    ///
    /// ```
    /// use kallglot::stream::MulawAudio;
    ///
    /// let frame = MulawAudio::from_pcm16(&[0; 800], 8000)?;
    /// assert_eq!(frame.len(), 800);
    /// // 16 kHz audio is refused rather than sent at the wrong speed.
    /// assert!(MulawAudio::from_pcm16(&[0; 1600], 16_000).is_err());
    /// # Ok::<(), kallglot::stream::AudioError>(())
    /// ```
    pub fn from_pcm16(samples: &[i16], sample_rate_hz: u32) -> Result<Self, AudioError> {
        check_is_8k(sample_rate_hz)?;
        Ok(Self(encode(samples)))
    }

    /// Encodes mono 16-bit little-endian PCM bytes (such as a WAV file's data chunk) that are
    /// already at 8 kHz.
    ///
    /// # Errors
    ///
    /// As [`from_pcm16`](Self::from_pcm16), plus [`AudioError::OddByteCount`] if the bytes
    /// are not a whole number of samples.
    ///
    /// ```
    /// use kallglot::stream::MulawAudio;
    ///
    /// // Two samples, little-endian: 0 and 1000.
    /// let frame = MulawAudio::from_pcm16_le_bytes(&[0x00, 0x00, 0xE8, 0x03], 8000)?;
    /// assert_eq!(frame.len(), 2);
    /// assert!(MulawAudio::from_pcm16_le_bytes(&[0x00, 0x00, 0xE8], 8000).is_err(), "half a sample");
    /// # Ok::<(), kallglot::stream::AudioError>(())
    /// ```
    pub fn from_pcm16_le_bytes(bytes: &[u8], sample_rate_hz: u32) -> Result<Self, AudioError> {
        check_is_8k(sample_rate_hz)?;
        if !bytes.len().is_multiple_of(2) {
            return Err(AudioError::OddByteCount { len: bytes.len() });
        }
        let encoded = bytes
            .chunks_exact(2)
            .map(|pair| encode_sample(i16::from_le_bytes([pair[0], pair[1]])))
            .collect();
        Ok(Self(encoded))
    }

    /// Wraps bytes that are already G.711 μ-law, 8 kHz, mono, without converting them.
    ///
    /// Nothing is checked — every byte is a valid μ-law code, so a wrong format cannot be
    /// detected. By calling this, the caller asserts the format; it is meant for audio that
    /// arrives in it, such as a telephony provider's media stream (Twilio, Vonage and most
    /// SIP trunks deliver `audio/x-mulaw;rate=8000`).
    ///
    /// ```
    /// use kallglot::stream::MulawAudio;
    ///
    /// // Bytes that are μ-law 8 kHz already, say from a telephony provider.
    /// let silence = MulawAudio::from_mulaw_bytes(vec![0xFF; 160]);
    /// assert_eq!(silence.duration(), std::time::Duration::from_millis(20));
    /// ```
    pub fn from_mulaw_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The μ-law bytes.
    ///
    /// ```
    /// use kallglot::stream::MulawAudio;
    ///
    /// let audio = MulawAudio::from_mulaw_bytes([0xFF, 0x7F]);
    /// assert_eq!(audio.as_bytes(), &[0xFF, 0x7F]);
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Consumes the audio, returning its μ-law bytes.
    ///
    /// ```
    /// use kallglot::stream::MulawAudio;
    ///
    /// let bytes = MulawAudio::from_mulaw_bytes(vec![0xFF; 8]).into_bytes();
    /// assert_eq!(bytes, vec![0xFF; 8]);
    /// ```
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Decodes to 16-bit linear PCM at 8 kHz.
    ///
    /// ```
    /// use kallglot::stream::MulawAudio;
    ///
    /// let audio = MulawAudio::from_pcm16(&[0, 0], 8000)?;
    /// assert_eq!(audio.to_pcm16(), [0, 0]);
    /// # Ok::<(), kallglot::stream::AudioError>(())
    /// ```
    pub fn to_pcm16(&self) -> Vec<i16> {
        decode(&self.0)
    }

    /// Length in bytes, which is also the number of samples.
    ///
    /// ```
    /// use kallglot::stream::MulawAudio;
    ///
    /// assert_eq!(MulawAudio::from_mulaw_bytes(vec![0xFF; 800]).len(), 800);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no audio at all.
    ///
    /// ```
    /// use kallglot::stream::MulawAudio;
    ///
    /// assert!(MulawAudio::from_mulaw_bytes(Vec::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How long the audio plays: 125 µs per byte.
    ///
    /// ```
    /// use kallglot::stream::MulawAudio;
    ///
    /// let frame = MulawAudio::from_mulaw_bytes(vec![0xFF; 800]);
    /// assert_eq!(frame.duration(), std::time::Duration::from_millis(100));
    /// ```
    pub fn duration(&self) -> Duration {
        // 1 s / 8000 samples = 125 µs exactly, so integer microseconds lose nothing.
        let micros = (self.0.len() as u64).saturating_mul(1_000_000 / u64::from(SAMPLE_RATE_HZ));
        Duration::from_micros(micros)
    }
}

impl fmt::Debug for MulawAudio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MulawAudio")
            .field("len", &self.0.len())
            .field("duration", &self.duration())
            .finish()
    }
}

impl AsRef<[u8]> for MulawAudio {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<MulawAudio> for Vec<u8> {
    fn from(audio: MulawAudio) -> Self {
        audio.0
    }
}

/// Accepts exactly [`SAMPLE_RATE_HZ`].
fn check_is_8k(sample_rate_hz: u32) -> Result<(), AudioError> {
    match sample_rate_hz {
        SAMPLE_RATE_HZ => Ok(()),
        0 => Err(AudioError::ZeroSampleRate),
        got => Err(AudioError::UnsupportedSampleRate { got }),
    }
}

// ---------------------------------------------------------------------------------------------
// Channel and rate conversion
// ---------------------------------------------------------------------------------------------

/// Mixes interleaved stereo (`L, R, L, R, …`) down to mono by averaging each pair.
///
/// The average is rounded toward zero, so it adds no DC offset. A trailing unpaired sample
/// cannot be a whole stereo frame and is dropped; when feeding a stream in chunks, split it
/// on frame (even-index) boundaries.
///
/// ```
/// use kallglot::stream::audio;
///
/// // L, R, L, R, and a trailing half frame that is dropped.
/// let mono = audio::downmix_stereo(&[100, 300, -50, 50, 7]);
/// assert_eq!(mono, [200, 0]);
/// ```
pub fn downmix_stereo(interleaved: &[i16]) -> Vec<i16> {
    interleaved
        .chunks_exact(2)
        // The mean of two i16 values always fits in an i16.
        .map(|pair| ((i32::from(pair[0]) + i32::from(pair[1])) / 2) as i16)
        .collect()
}

/// Converts a whole clip of mono 16-bit PCM at `from_hz` to 8 kHz — *the* way to feed the
/// stream audio recorded at any other rate.
///
/// At 8000 Hz the samples are returned unchanged. Otherwise this is one [`Resampler`] run
/// over the whole input and flushed, so the result is exactly what streaming the same samples
/// through a `Resampler` in any chunk sizes gives; see there for the method and its quality.
/// The output has `ceil(len × 8000 / from_hz)` samples, i.e. the same duration.
///
/// # Errors
///
/// [`AudioError::ZeroSampleRate`] for 0 and [`AudioError::SampleRateTooHigh`] above
/// [`MAX_RESAMPLE_INPUT_HZ`].
///
/// ```
/// use kallglot::stream::audio;
///
/// // One second at 16 kHz becomes one second at 8 kHz.
/// let narrow = audio::resample_to_8k(&vec![0i16; 16_000], 16_000)?;
/// assert_eq!(narrow.len(), 8_000);
/// assert!(audio::resample_to_8k(&[0; 10], 0).is_err());
/// # Ok::<(), kallglot::stream::AudioError>(())
/// ```
pub fn resample_to_8k(samples: &[i16], from_hz: u32) -> Result<Vec<i16>, AudioError> {
    let mut resampler = Resampler::new(from_hz)?;
    let expected = samples.len() as u64 * u64::from(SAMPLE_RATE_HZ) / u64::from(from_hz) + 1;
    let mut out = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    resampler.process(samples, &mut out);
    resampler.flush(&mut out);
    Ok(out)
}

/// Lower edge of the anti-aliasing filter's transition band, in hertz. Everything below it is
/// passed essentially untouched; 3.4 kHz is the top of the telephone speech band.
const PASSBAND_EDGE_HZ: f64 = 3400.0;

/// Upper edge of the transition band, in hertz: everything above is attenuated by at least
/// [`STOPBAND_ATTENUATION_DB`]. It sits a little above the 4 kHz output Nyquist frequency, so
/// the only content that can fold back is 4.0–4.2 kHz, which lands at 3.8–4.0 kHz, above the
/// speech band. Putting it exactly at 4 kHz would cost either taps or passband.
const STOPBAND_EDGE_HZ: f64 = 4200.0;

/// Stopband attenuation the Kaiser window is designed for, in decibels. 70 dB pushes aliases
/// below the quantization noise of 8-bit μ-law (about 38 dB SNR).
const STOPBAND_ATTENUATION_DB: f64 = 70.0;

/// Streaming conversion of mono 16-bit PCM from any rate to 8 kHz.
///
/// **Method.** When downsampling (`from_hz > 8000`), the input first passes through a
/// linear-phase low-pass FIR filter — a Kaiser-windowed sinc, flat to 3.4 kHz and at least
/// 70 dB down from 4.2 kHz — so that content above the 4 kHz output Nyquist frequency does not
/// fold back as audible aliases. Each output sample is then a linear interpolation between
/// the two filtered input samples around its position. The filter is evaluated only at the
/// input positions the interpolation needs, so the cost is about
/// `2 × taps` multiply-adds per *output* sample (the filter has roughly `from_hz / 185` taps:
/// 261 at 48 kHz). When upsampling (`from_hz < 8000`) the input has nothing above 4 kHz to
/// remove, and only the linear interpolation is applied. At 8000 Hz samples pass through
/// unchanged.
///
/// **Quality.** Good for speech recognition and telephone-quality listening, which is what the
/// stream needs; not a hi-fi converter. Measured from 48 kHz: flat (within 0.01 dB) up to
/// 3.4 kHz, −12 dB at 3.9 kHz, −72 dB at 4.2 kHz and −80 dB or lower beyond. At integer
/// ratios (16, 24, 32, 48 kHz …) every output lands on an input sample, so that is the whole
/// story. At fractional ratios linear interpolation adds a droop towards 4 kHz that grows as
/// the rate nears 8 kHz: at 3.4 kHz about −0.2 dB from 44.1 kHz, −0.7 dB from 22.05 kHz and
/// −2.6 dB from 11.025 kHz. Upsampling leaves faint images above the original Nyquist
/// frequency.
///
/// **Streaming.** State carries across [`process`](Self::process) calls, so chunk boundaries
/// leave no discontinuity: the output is identical, sample for sample, to converting the whole
/// input at once, whatever the chunk sizes. To make that possible `process` holds back the
/// samples whose filter window reaches past the input received so far — about 2.7 ms of
/// audio plus one input sample, at any rate. [`flush`](Self::flush) emits them at the end.
/// The start and end of the stream are extended by repeating the first and last samples,
/// which avoids a click and keeps a constant signal exactly constant.
#[derive(Clone)]
pub struct Resampler {
    from_hz: u32,
    /// Input samples advanced per output sample, as the reduced fraction `step_num / step_den`.
    /// Exact integer arithmetic keeps the output clock from drifting over long streams.
    step_num: u64,
    step_den: u64,
    /// Filter taps (odd count, symmetric, summing to 1); `[1.0]` when no filtering is needed.
    taps: Vec<f64>,
    /// `(taps.len() - 1) / 2`: how far the filter looks either side of a sample.
    half: usize,
    /// The input, padded in front by `half` copies of its first sample, from padded index
    /// `buf_start` on. Filtered sample `i` is the dot product of `taps` with
    /// `padded[i..i + taps.len()]`, which centres the filter on input sample `i`.
    buf: Vec<i16>,
    buf_start: u64,
    /// Real input samples received since the start (or the last flush).
    seen: u64,
    /// Position of the next output sample on the input time axis:
    /// `pos_index + pos_frac / step_den` input samples.
    pos_index: u64,
    pos_frac: u64,
    /// Last input sample, repeated to extend the end of the stream on flush.
    last: i16,
}

impl Resampler {
    /// Creates a resampler from `from_hz` to 8 kHz.
    ///
    /// # Errors
    ///
    /// [`AudioError::ZeroSampleRate`] for 0 and [`AudioError::SampleRateTooHigh`] above
    /// [`MAX_RESAMPLE_INPUT_HZ`].
    ///
    /// ```
    /// use kallglot::stream::audio::Resampler;
    ///
    /// let resampler = Resampler::new(48_000)?;
    /// assert_eq!(resampler.from_hz(), 48_000);
    /// assert!(Resampler::new(0).is_err());
    /// assert!(Resampler::new(1_000_000).is_err());
    /// # Ok::<(), kallglot::stream::AudioError>(())
    /// ```
    pub fn new(from_hz: u32) -> Result<Self, AudioError> {
        if from_hz == 0 {
            return Err(AudioError::ZeroSampleRate);
        }
        if from_hz > MAX_RESAMPLE_INPUT_HZ {
            return Err(AudioError::SampleRateTooHigh {
                got: from_hz,
                max: MAX_RESAMPLE_INPUT_HZ,
            });
        }
        let divisor = gcd(u64::from(from_hz), u64::from(SAMPLE_RATE_HZ));
        let taps = if from_hz > SAMPLE_RATE_HZ {
            design_lowpass(f64::from(from_hz))
        } else {
            vec![1.0]
        };
        Ok(Self {
            from_hz,
            step_num: u64::from(from_hz) / divisor,
            step_den: u64::from(SAMPLE_RATE_HZ) / divisor,
            half: taps.len() / 2,
            taps,
            buf: Vec::new(),
            buf_start: 0,
            seen: 0,
            pos_index: 0,
            pos_frac: 0,
            last: 0,
        })
    }

    /// The input sample rate, in hertz.
    ///
    /// ```
    /// use kallglot::stream::audio::Resampler;
    ///
    /// assert_eq!(Resampler::new(44_100)?.from_hz(), 44_100);
    /// # Ok::<(), kallglot::stream::AudioError>(())
    /// ```
    pub fn from_hz(&self) -> u32 {
        self.from_hz
    }

    /// Feeds the next chunk of input and appends every output sample that is now final to
    /// `out`. Chunks may be any size, including empty.
    ///
    /// ```
    /// use kallglot::stream::audio::Resampler;
    ///
    /// // A live 16 kHz source in 10 ms callbacks.
    /// let mut resampler = Resampler::new(16_000)?;
    /// let mut narrow = Vec::new();
    /// for _ in 0..100 {
    ///     resampler.process(&[0; 160], &mut narrow);
    /// }
    /// resampler.flush(&mut narrow);
    /// assert_eq!(narrow.len(), 8_000); // one second at 8 kHz
    /// # Ok::<(), kallglot::stream::AudioError>(())
    /// ```
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.is_passthrough() {
            out.extend_from_slice(input);
            return;
        }
        let (Some(&first), Some(&last)) = (input.first(), input.last()) else {
            return;
        };
        if self.seen == 0 {
            // Extend the start by repeating the first sample, so the filter's first windows
            // see a plausible signal instead of a jump from silence.
            self.buf.extend(std::iter::repeat_n(first, self.half));
        }
        self.buf.extend_from_slice(input);
        self.seen += input.len() as u64;
        self.last = last;

        // Output at `pos_index` needs filtered samples `pos_index` and `pos_index + 1`, whose
        // windows end at real input sample `pos_index + 1 + half`. Emit only those, so later
        // input can never change an output already handed out.
        let lookahead = 2 + self.half as u64;
        while self.pos_index + lookahead <= self.seen {
            out.push(self.interpolate());
            self.advance();
        }
        self.discard_consumed();
    }

    /// Ends the stream: appends the held-back output samples to `out`, then resets the
    /// resampler so it can start a new, unrelated stream.
    ///
    /// Over a whole stream, `process` plus `flush` produce `ceil(n × 8000 / from_hz)` samples
    /// for `n` input samples.
    ///
    /// ```
    /// use kallglot::stream::audio::Resampler;
    ///
    /// let mut resampler = Resampler::new(16_000)?;
    /// let mut out = Vec::new();
    /// resampler.process(&[0; 3], &mut out);
    /// resampler.flush(&mut out); // the samples still held by the filter
    /// assert_eq!(out.len(), 2); // ceil(3 × 8000 / 16000)
    /// # Ok::<(), kallglot::stream::AudioError>(())
    /// ```
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        if !self.is_passthrough() && self.seen > 0 {
            // Extend the end by repeating the last sample: enough for the filter window of
            // the last real sample plus the interpolation partner after it.
            self.buf
                .extend(std::iter::repeat_n(self.last, self.half + 1));
            // Every output whose position falls within the input's duration.
            while self.pos_index < self.seen {
                out.push(self.interpolate());
                self.advance();
            }
        }
        self.buf.clear();
        self.buf_start = 0;
        self.seen = 0;
        self.pos_index = 0;
        self.pos_frac = 0;
        self.last = 0;
    }

    fn is_passthrough(&self) -> bool {
        self.from_hz == SAMPLE_RATE_HZ
    }

    /// Input sample `index`, low-pass filtered.
    fn filtered(&self, index: u64) -> f64 {
        let start = (index - self.buf_start) as usize;
        let window = &self.buf[start..start + self.taps.len()];
        self.taps
            .iter()
            .zip(window)
            .map(|(&tap, &sample)| tap * f64::from(sample))
            .sum()
    }

    /// The output sample at the current position.
    fn interpolate(&self) -> i16 {
        let before = self.filtered(self.pos_index);
        let after = self.filtered(self.pos_index + 1);
        let frac = self.pos_frac as f64 / self.step_den as f64;
        let value = before + (after - before) * frac;
        // `as` saturates, which clips the filter's rare overshoot on full-scale input.
        value.round() as i16
    }

    fn advance(&mut self) {
        self.pos_frac += self.step_num;
        self.pos_index += self.pos_frac / self.step_den;
        self.pos_frac %= self.step_den;
    }

    /// Drops buffered input that no future output can need. Only done once the dead prefix
    /// is at least as long as what is kept, so each sample is moved O(1) times on average.
    fn discard_consumed(&mut self) {
        let dead = ((self.pos_index - self.buf_start) as usize).min(self.buf.len());
        if dead > 0 && dead >= self.buf.len() - dead {
            self.buf.drain(..dead);
            self.buf_start += dead as u64;
        }
    }
}

impl fmt::Debug for Resampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resampler")
            .field("from_hz", &self.from_hz)
            .field("to_hz", &SAMPLE_RATE_HZ)
            .field("taps", &self.taps.len())
            .field("buffered", &self.buf.len())
            .finish()
    }
}

/// Designs the anti-aliasing low-pass for input at `fs` Hz: a Kaiser-windowed sinc with its
/// cutoff mid-way through the 3.4–4.2 kHz transition band, normalised to unity gain at DC.
fn design_lowpass(fs: f64) -> Vec<f64> {
    let attenuation = STOPBAND_ATTENUATION_DB;
    // Kaiser's empirical formulas: the window shape for the attenuation, and the length for
    // the transition width (in radians per sample).
    let beta = 0.1102 * (attenuation - 8.7);
    let transition = 2.0 * PI * (STOPBAND_EDGE_HZ - PASSBAND_EDGE_HZ) / fs;
    let length = ((attenuation - 8.0) / (2.285 * transition)).ceil() as usize;
    let half = length.div_ceil(2).max(1);
    // Cutoff in cycles per input sample.
    let cutoff = (PASSBAND_EDGE_HZ + STOPBAND_EDGE_HZ) / 2.0 / fs;
    let window_norm = bessel_i0(beta);

    let mut taps: Vec<f64> = (0..=2 * half)
        .map(|n| {
            let t = n as f64 - half as f64;
            let sinc = if t == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * PI * cutoff * t).sin() / (PI * t)
            };
            let r = t / half as f64;
            let window = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / window_norm;
            sinc * window
        })
        .collect();
    // Unity DC gain, so a constant signal comes out as the same constant.
    let sum: f64 = taps.iter().sum();
    for tap in &mut taps {
        *tap /= sum;
    }
    taps
}

/// Modified Bessel function of the first kind, order zero, by its power series; converges
/// quickly for the small arguments a Kaiser window uses.
fn bessel_i0(x: f64) -> f64 {
    let quarter_x_squared = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while term > sum * 1e-16 {
        term *= quarter_x_squared / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

// ---------------------------------------------------------------------------------------------
// Framer
// ---------------------------------------------------------------------------------------------

/// Cuts μ-law audio into frames of one fixed duration for sending.
///
/// Audio arrives in whatever sizes its source produces (a telephony provider's 20 ms packets,
/// a microphone callback's buffers); the stream wants evenly paced chunks of 20–200 ms. Push
/// audio in, take whole frames out with [`next_frame`](Self::next_frame), and at the end of
/// the stream send what [`finish`](Self::finish) returns.
#[derive(Clone)]
pub struct Framer {
    frame_ms: u32,
    frame_bytes: usize,
    /// Bytes not yet handed out. A ring buffer, so taking a frame off the front costs the
    /// frame's size, not the size of everything buffered.
    pending: VecDeque<u8>,
}

impl Framer {
    /// Creates a framer producing frames of `frame_ms` milliseconds (`frame_ms × 8` bytes).
    ///
    /// # Errors
    ///
    /// [`AudioError::FrameDurationOutOfRange`] unless `frame_ms` is within
    /// [`MIN_FRAME_MS`]`..=`[`MAX_FRAME_MS`].
    ///
    /// ```
    /// use kallglot::stream::audio::Framer;
    /// use kallglot::stream::MulawAudio;
    ///
    /// let framer = Framer::new(20)?; // telephony-sized frames
    /// assert_eq!(framer.frame_bytes(), 160);
    /// assert!(Framer::new(5).is_err(), "below the 20 ms minimum");
    /// # Ok::<(), kallglot::stream::AudioError>(())
    /// ```
    pub fn new(frame_ms: u32) -> Result<Self, AudioError> {
        if !(MIN_FRAME_MS..=MAX_FRAME_MS).contains(&frame_ms) {
            return Err(AudioError::FrameDurationOutOfRange { got_ms: frame_ms });
        }
        Ok(Self {
            frame_ms,
            frame_bytes: (frame_ms * BYTES_PER_MS) as usize,
            pending: VecDeque::new(),
        })
    }

    /// Frame duration, in milliseconds.
    ///
    /// ```
    /// use kallglot::stream::audio::Framer;
    /// use kallglot::stream::MulawAudio;
    ///
    /// assert_eq!(Framer::default().frame_ms(), 100);
    /// # let _ = MulawAudio::from_mulaw_bytes(Vec::new());
    /// ```
    pub fn frame_ms(&self) -> u32 {
        self.frame_ms
    }

    /// Frame size, in bytes (`frame_ms × 8`).
    ///
    /// ```
    /// use kallglot::stream::audio::Framer;
    /// use kallglot::stream::MulawAudio;
    ///
    /// // One byte per sample at 8 kHz: 8 bytes per millisecond.
    /// assert_eq!(Framer::new(200)?.frame_bytes(), 1600);
    /// # let _ = MulawAudio::from_mulaw_bytes(Vec::new());
    /// # Ok::<(), kallglot::stream::AudioError>(())
    /// ```
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    /// Bytes pushed but not yet returned as a frame.
    ///
    /// ```
    /// use kallglot::stream::audio::Framer;
    /// use kallglot::stream::MulawAudio;
    ///
    /// let mut framer = Framer::default();
    /// framer.push(&MulawAudio::from_mulaw_bytes(vec![0xFF; 1000]));
    /// let _frame = framer.next_frame();
    /// assert_eq!(framer.pending_bytes(), 200); // 1000 in, one 800-byte frame out
    /// ```
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Appends audio.
    ///
    /// ```
    /// use kallglot::stream::audio::Framer;
    /// use kallglot::stream::MulawAudio;
    ///
    /// let mut framer = Framer::default();
    /// // A telephony provider's 20 ms packets, five to a 100 ms frame.
    /// for _ in 0..5 {
    ///     assert!(framer.next_frame().is_none());
    ///     framer.push(&MulawAudio::from_mulaw_bytes(vec![0xFF; 160]));
    /// }
    /// assert_eq!(framer.next_frame().map(|f| f.len()), Some(800));
    /// ```
    pub fn push(&mut self, audio: &MulawAudio) {
        self.pending.extend(audio.as_bytes());
    }

    /// Takes the next whole frame, exactly [`frame_bytes`](Self::frame_bytes) long, or `None`
    /// if less than a frame is buffered.
    ///
    /// ```
    /// use kallglot::stream::audio::Framer;
    /// use kallglot::stream::MulawAudio;
    ///
    /// let mut framer = Framer::default();
    /// framer.push(&MulawAudio::from_mulaw_bytes(vec![0xFF; 2000]));
    /// let mut frames = Vec::new();
    /// while let Some(frame) = framer.next_frame() {
    ///     frames.push(frame);
    /// }
    /// assert_eq!(frames.len(), 2);
    /// assert_eq!(framer.finish().map(|rest| rest.len()), Some(400));
    /// ```
    pub fn next_frame(&mut self) -> Option<MulawAudio> {
        if self.pending.len() < self.frame_bytes {
            return None;
        }
        Some(MulawAudio(self.pending.drain(..self.frame_bytes).collect()))
    }

    /// Ends the stream, returning the audio still buffered, or `None` if there is none.
    ///
    /// Take every whole frame with [`next_frame`](Self::next_frame) first; what remains is
    /// then shorter than a frame. (Anything left is returned rather than dropped, so audio is
    /// never lost, but it may then exceed the frame length.)
    ///
    /// ```
    /// use kallglot::stream::audio::Framer;
    /// use kallglot::stream::MulawAudio;
    ///
    /// let mut framer = Framer::default();
    /// framer.push(&MulawAudio::from_mulaw_bytes(vec![0xFF; 300]));
    /// assert!(framer.next_frame().is_none());
    /// // The last 300 bytes (37.5 ms) still go out when the call ends.
    /// assert_eq!(framer.finish().map(|rest| rest.len()), Some(300));
    /// assert!(Framer::default().finish().is_none());
    /// ```
    pub fn finish(self) -> Option<MulawAudio> {
        if self.pending.is_empty() {
            None
        } else {
            Some(MulawAudio(self.pending.into()))
        }
    }
}

impl Default for Framer {
    /// A framer with [`DEFAULT_FRAME_MS`] (100 ms) frames.
    fn default() -> Self {
        Self {
            frame_ms: DEFAULT_FRAME_MS,
            frame_bytes: (DEFAULT_FRAME_MS * BYTES_PER_MS) as usize,
            pending: VecDeque::new(),
        }
    }
}

impl fmt::Debug for Framer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Framer")
            .field("frame_ms", &self.frame_ms)
            .field("pending_bytes", &self.pending.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// G.711 μ-law expansion written out independently of the const tables:
    /// `((mantissa << 3) + 0x84) << exponent) - 0x84`, negated when the sign bit is set.
    fn textbook_decode(code: u8) -> i32 {
        let u = !code;
        let exponent = u32::from((u >> 4) & 7);
        let mantissa = i32::from(u & 0x0F);
        let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
        if u & 0x80 != 0 { -magnitude } else { magnitude }
    }

    /// Tiny deterministic PRNG (xorshift64*) so tests need no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn tone(freq_hz: f64, rate_hz: u32, samples: usize, amplitude: f64) -> Vec<i16> {
        (0..samples)
            .map(|n| {
                let t = n as f64 / f64::from(rate_hz);
                (amplitude * (2.0 * PI * freq_hz * t).sin()).round() as i16
            })
            .collect()
    }

    /// Gain in dB of the 48 kHz → 8 kHz path (or any rate) for a 1 s tone, measured as output
    /// RMS over the steady middle part against the input tone's RMS.
    fn gain_db(freq_hz: f64, rate_hz: u32) -> f64 {
        const AMPLITUDE: f64 = 30_000.0;
        let input = tone(freq_hz, rate_hz, rate_hz as usize, AMPLITUDE);
        let output = resample_to_8k(&input, rate_hz).unwrap();
        let middle = &output[200..output.len() - 200];
        let mean_square =
            middle.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / middle.len() as f64;
        20.0 * (mean_square.sqrt() / (AMPLITUDE / 2.0_f64.sqrt())).log10()
    }

    /// Sign changes, ignoring exact zeros.
    fn zero_crossings(samples: &[i16]) -> usize {
        let mut previous = 0_i16;
        let mut count = 0;
        for &s in samples.iter().filter(|&&s| s != 0) {
            if previous != 0 && (previous < 0) != (s < 0) {
                count += 1;
            }
            previous = s;
        }
        count
    }

    // ----- codec -------------------------------------------------------------------------

    #[test]
    fn codec_reference_values() {
        assert_eq!(encode_sample(0), 0xFF);
        assert_eq!(encode_sample(-1), 0x7F);
        assert_eq!(encode_sample(32767), 0x80);
        assert_eq!(encode_sample(-32768), 0x00);
        assert_eq!(decode_sample(0x80), 32124);
        assert_eq!(decode_sample(0x00), -32124);
        assert_eq!(decode_sample(0xFF), 0);
        assert_eq!(decode_sample(0x7F), 0);
    }

    #[test]
    fn segment_end_codes_decode_to_the_g711_table_values() {
        // G.711 Table 2a (μ-law) gives, in its 14-bit scale, the first and last output value
        // of each segment: 0/30, 33/93, 99/219, 231/471, 495/975, 1023/1983, 2079/3999 and
        // 4191/8031. 16-bit PCM is that scale times four.
        let first = [0, 33, 99, 231, 495, 1023, 2079, 4191];
        let last = [30, 93, 219, 471, 975, 1983, 3999, 8031];
        for segment in 0..8_u8 {
            let first_code = 0xFF - (segment << 4); // mantissa 0: 0xFF, 0xEF, …, 0x8F
            let last_code = 0xF0 - (segment << 4); // mantissa 15: 0xF0, 0xE0, …, 0x80
            let expected_first = first[usize::from(segment)] * 4;
            let expected_last = last[usize::from(segment)] * 4;
            for (code, expected) in [(first_code, expected_first), (last_code, expected_last)] {
                assert_eq!(textbook_decode(code), expected, "textbook {code:#04x}");
                assert_eq!(
                    i32::from(decode_sample(code)),
                    expected,
                    "table {code:#04x}"
                );
                // The same code with the sign bit cleared is the negative value.
                assert_eq!(
                    i32::from(decode_sample(code & 0x7F)),
                    -expected,
                    "{code:#04x}"
                );
            }
        }
    }

    #[test]
    fn decode_table_matches_the_textbook_formula_for_every_code() {
        for code in 0..=255_u8 {
            assert_eq!(
                i32::from(decode_sample(code)),
                textbook_decode(code),
                "{code:#04x}"
            );
        }
        assert_eq!(decode(&[0x80, 0xFF, 0x00]), vec![32124, 0, -32124]);
    }

    #[test]
    fn exponent_table_is_the_highest_set_bit() {
        assert_eq!(EXPONENT_TABLE[0], 0);
        for i in 1..256_u32 {
            assert_eq!(
                u32::from(EXPONENT_TABLE[i as usize]),
                i.ilog2(),
                "index {i}"
            );
        }
        // The classic written-out table: 2 zeros, 2 ones, 4 twos, 8 threes, …, 128 sevens.
        for exponent in 0..8_u8 {
            let count = EXPONENT_TABLE.iter().filter(|&&e| e == exponent).count();
            assert_eq!(count, if exponent == 0 { 2 } else { 1 << exponent });
        }
    }

    #[test]
    fn encoder_switches_segment_exactly_at_the_g711_decision_values() {
        // Segment boundaries from G.711 Table 2a (14-bit decision values 31, 95, 223, 479,
        // 991, 2015, 4063), times four: the value below stays in the lower segment's last
        // step, the boundary itself starts the next segment.
        let boundaries = [124, 380, 892, 1916, 3964, 8060, 16252];
        for (segment, &boundary) in (1_u8..).zip(&boundaries) {
            let last_of_lower = 0xF0 - ((segment - 1) << 4);
            let first_of_upper = 0xFF - (segment << 4);
            assert_eq!(encode_sample(boundary - 1), last_of_lower, "{boundary}-1");
            assert_eq!(encode_sample(boundary), first_of_upper, "{boundary}");
            assert_eq!(
                encode_sample(-(boundary - 1)),
                last_of_lower & 0x7F,
                "-({boundary}-1)"
            );
            assert_eq!(
                encode_sample(-boundary),
                first_of_upper & 0x7F,
                "-{boundary}"
            );
        }
        // Within segment 0: steps of 8, the first one half-width (0..=3 is code 0xFF).
        assert_eq!(encode_sample(3), 0xFF);
        assert_eq!(encode_sample(4), 0xFE);
        assert_eq!(encode_sample(11), 0xFE);
        assert_eq!(encode_sample(12), 0xFD);
        assert_eq!(encode_sample(-3), 0x7F);
        assert_eq!(encode_sample(-4), 0x7E);
        // Clipping: everything from 32635 up (8159 × 4, the overload point) is the top code.
        assert_eq!(encode_sample(31612), 0x80);
        assert_eq!(encode_sample(31611), 0x81);
        assert_eq!(encode_sample(32635), 0x80);
        assert_eq!(encode_sample(32636), 0x80);
        assert_eq!(encode_sample(-32767), 0x00);
    }

    #[test]
    fn every_code_round_trips_except_negative_zero() {
        for code in 0..=255_u8 {
            let round_trip = encode_sample(decode_sample(code));
            if code == 0x7F {
                // 0x7F is "−0"; it decodes to 0, which encodes as "+0".
                assert_eq!(round_trip, 0xFF);
            } else {
                assert_eq!(round_trip, code, "{code:#04x}");
            }
        }
    }

    #[test]
    fn decode_is_strictly_monotonic_within_each_sign_and_symmetric() {
        // Positive half: 0x80 (largest) down to 0xFF (zero).
        for code in 0x80..0xFF_u8 {
            assert!(decode_sample(code) > decode_sample(code + 1), "{code:#04x}");
        }
        // Negative half: 0x00 (most negative) up to 0x7F (zero).
        for code in 0x00..0x7F_u8 {
            assert!(decode_sample(code) < decode_sample(code + 1), "{code:#04x}");
        }
        for code in 0..=255_u8 {
            assert_eq!(
                decode_sample(code),
                -decode_sample(code ^ 0x80),
                "{code:#04x}"
            );
        }
    }

    #[test]
    fn quantization_error_is_at_most_half_a_step_of_the_segment() {
        // For |x| <= 32635, x + 132 lies in segment e = [128 << e, 256 << e), whose steps are
        // 8 << e wide, and the decoder returns the middle of the step: the error is at most
        // 4 << e, and that bound is reached in every segment. Above 32635 the input is also
        // clipped, adding |x| - 32635.
        let mut worst = [0_i32; 8];
        for x in i16::MIN..=i16::MAX {
            let decoded = i32::from(decode_sample(encode_sample(x)));
            let x = i32::from(x);
            assert!(decoded == 0 || (decoded < 0) == (x < 0), "sign of {x}");
            let clipped = x.abs().min(32635);
            let segment = (31 - (clipped + 132).leading_zeros() - 7) as usize;
            let error = (clipped - decoded.abs()).abs();
            assert!(
                error <= 4 << segment,
                "{x}: error {error} in segment {segment}"
            );
            assert_eq!((x - decoded).abs(), error + (x.abs() - clipped), "{x}");
            worst[segment] = worst[segment].max(error);
        }
        assert_eq!(worst, [4, 8, 16, 32, 64, 128, 256, 512]);
    }

    #[test]
    fn encoder_picks_the_nearest_level_except_at_segment_starts() {
        // G.711 places decision values on segment boundaries and outputs mid-step, so just
        // above a boundary the previous segment's top level (half a *smaller* step below) is
        // nearer than the chosen one: for the first quarter of a segment's first step,
        // x + 132 - (128 << e) < 1 << e. That is the standard's behaviour, not an encoder bug;
        // everywhere else the chosen level is the nearest of all 255 distinct levels.
        let mut levels: Vec<i32> = (0..=255_u8).map(|c| i32::from(decode_sample(c))).collect();
        levels.sort_unstable();
        levels.dedup();
        assert_eq!(levels.len(), 255);

        let mut not_nearest = 0;
        for x in i16::MIN..=i16::MAX {
            let x = i32::from(x);
            let chosen = i32::from(decode_sample(encode_sample(x as i16)));
            let at = levels.partition_point(|&level| level < x);
            let nearest = [at.checked_sub(1), Some(at)]
                .into_iter()
                .flatten()
                .filter_map(|i| levels.get(i))
                .map(|&level| (x - level).abs())
                .min()
                .unwrap();
            if (x - chosen).abs() != nearest {
                let biased = x.abs() + 132;
                let segment = 31 - biased.leading_zeros() - 7;
                assert!(segment >= 1 && x.abs() <= 32635, "{x}");
                assert!(biased - (128 << segment) < 1 << segment, "{x}");
                not_nearest += 1;
            }
        }
        // (2 + 4 + … + 128) magnitudes, on each side of zero.
        assert_eq!(not_nearest, 2 * 254);
    }

    #[test]
    fn companding_is_monotonic_over_all_inputs() {
        let mut previous = i32::MIN;
        for x in i16::MIN..=i16::MAX {
            let decoded = i32::from(decode_sample(encode_sample(x)));
            assert!(decoded >= previous, "{x}");
            previous = decoded;
        }
    }

    #[test]
    fn slice_encoders_agree_with_the_sample_encoder() {
        let pcm = [0, -1, 1000, -1000, i16::MAX, i16::MIN];
        let expected: Vec<u8> = pcm.iter().map(|&s| encode_sample(s)).collect();
        assert_eq!(encode(&pcm), expected);
        let mut out = vec![0xAA];
        encode_into(&pcm, &mut out);
        assert_eq!(out[0], 0xAA);
        assert_eq!(&out[1..], &expected[..]);
        assert_eq!(
            decode(&expected),
            pcm.map(|s| decode_sample(encode_sample(s)))
        );
    }

    // ----- MulawAudio ----------------------------------------------------------------------

    #[test]
    fn from_pcm16_accepts_only_8k() {
        let pcm = [0_i16, 100, -100];
        let audio = MulawAudio::from_pcm16(&pcm, 8000).unwrap();
        assert_eq!(audio.as_bytes(), &encode(&pcm)[..]);
        for rate in [16_000, 44_100, 48_000, 8_001, 7_999] {
            let err = MulawAudio::from_pcm16(&pcm, rate).unwrap_err();
            assert_eq!(err, AudioError::UnsupportedSampleRate { got: rate });
            let message = err.to_string();
            assert!(message.contains(&rate.to_string()), "{message}");
            assert!(message.contains("resample_to_8k"), "{message}");
        }
        assert_eq!(
            MulawAudio::from_pcm16(&pcm, 0),
            Err(AudioError::ZeroSampleRate)
        );
    }

    #[test]
    fn from_pcm16_le_bytes_matches_from_pcm16() {
        let pcm = [0_i16, 1234, -1234, i16::MAX, i16::MIN];
        let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        assert_eq!(
            MulawAudio::from_pcm16_le_bytes(&bytes, 8000).unwrap(),
            MulawAudio::from_pcm16(&pcm, 8000).unwrap()
        );
        assert_eq!(
            MulawAudio::from_pcm16_le_bytes(&bytes[..3], 8000),
            Err(AudioError::OddByteCount { len: 3 })
        );
        assert_eq!(
            MulawAudio::from_pcm16_le_bytes(&bytes, 16_000),
            Err(AudioError::UnsupportedSampleRate { got: 16_000 })
        );
    }

    #[test]
    fn mulaw_bytes_are_kept_verbatim() {
        let audio = MulawAudio::from_mulaw_bytes(vec![0xFF, 0x80, 0x00]);
        assert_eq!(audio.as_bytes(), &[0xFF, 0x80, 0x00]);
        assert_eq!(audio.as_ref(), &[0xFF, 0x80, 0x00]);
        assert_eq!(audio.to_pcm16(), vec![0, 32124, -32124]);
        assert_eq!(audio.len(), 3);
        assert!(!audio.is_empty());
        assert_eq!(audio.clone().into_bytes(), vec![0xFF, 0x80, 0x00]);
        assert_eq!(Vec::from(audio), vec![0xFF, 0x80, 0x00]);
        assert!(MulawAudio::default().is_empty());
        assert_eq!(MulawAudio::from_mulaw_bytes(&[1_u8, 2][..]).len(), 2);
    }

    #[test]
    fn duration_and_debug() {
        assert_eq!(MulawAudio::default().duration(), Duration::ZERO);
        assert_eq!(
            MulawAudio::from_mulaw_bytes(vec![0xFF; 1]).duration(),
            Duration::from_micros(125)
        );
        assert_eq!(
            MulawAudio::from_mulaw_bytes(vec![0xFF; 800]).duration(),
            Duration::from_millis(100)
        );
        let second = MulawAudio::from_mulaw_bytes(vec![0xAB; 8000]);
        assert_eq!(second.duration(), Duration::from_secs(1));
        let debug = format!("{second:?}");
        assert_eq!(debug, "MulawAudio { len: 8000, duration: 1s }");
        assert!(!debug.contains("171"), "no bytes in {debug}"); // 0xAB
    }

    #[test]
    fn audio_error_messages() {
        assert_eq!(
            AudioError::FrameDurationOutOfRange { got_ms: 250 }.to_string(),
            "a frame of 250 ms is outside the allowed range of 20..=200 ms"
        );
        assert_eq!(
            AudioError::ZeroSampleRate.to_string(),
            "a sample rate of 0 Hz is not valid"
        );
        assert!(
            AudioError::SampleRateTooHigh {
                got: 500_000,
                max: MAX_RESAMPLE_INPUT_HZ
            }
            .to_string()
            .contains("384000")
        );
    }

    // ----- resampling ---------------------------------------------------------------------

    #[test]
    fn passthrough_at_8k_is_exact() {
        let mut rng = Rng(7);
        let pcm: Vec<i16> = (0..5000).map(|_| rng.next() as i16).collect();
        assert_eq!(resample_to_8k(&pcm, 8000).unwrap(), pcm);
        let mut resampler = Resampler::new(8000).unwrap();
        let mut out = Vec::new();
        let mut fed = 0;
        for chunk in pcm.chunks(333) {
            resampler.process(chunk, &mut out);
            fed += chunk.len();
            assert_eq!(out.len(), fed, "nothing held back at 8 kHz");
        }
        resampler.flush(&mut out);
        assert_eq!(out, pcm);
    }

    #[test]
    fn output_length_preserves_duration() {
        for rate in [
            4_000, 6_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000, 384_000,
        ] {
            let one_second = vec![0_i16; rate as usize];
            let out = resample_to_8k(&one_second, rate).unwrap();
            assert!(out.len().abs_diff(8000) <= 1, "{rate}: {}", out.len());
            assert_eq!(out.len(), 8000, "{rate}");
            for n in [0_usize, 1, 2, 5, 441, 1001, 4799] {
                let expected = (n as u64 * 8000).div_ceil(u64::from(rate)) as usize;
                let out = resample_to_8k(&vec![0_i16; n], rate).unwrap();
                assert_eq!(out.len(), expected, "{rate} Hz, {n} samples");
            }
        }
    }

    #[test]
    fn dc_stays_dc() {
        for rate in [6_000, 11_025, 16_000, 22_050, 44_100, 48_000] {
            for level in [1234_i16, -20_000, 0, i16::MAX] {
                let out = resample_to_8k(&vec![level; rate as usize / 3], rate).unwrap();
                assert!(out.iter().all(|&s| s == level), "{rate} Hz, level {level}");
            }
        }
    }

    #[test]
    fn a_440_hz_tone_stays_440_hz() {
        for rate in [6_000, 11_025, 16_000, 22_050, 44_100, 48_000] {
            let out = resample_to_8k(&tone(440.0, rate, rate as usize, 10_000.0), rate).unwrap();
            let crossings = zero_crossings(&out);
            // 440 cycles in one second cross zero 880 times (879 counted, as the first
            // sample is exactly zero).
            assert!(crossings.abs_diff(880) <= 2, "{rate} Hz: {crossings}");
            let gain = gain_db(440.0, rate);
            assert!(gain.abs() < 0.2, "{rate} Hz: {gain:.3} dB");
        }
    }

    #[test]
    fn anti_aliasing_filter_response_at_48k() {
        let measured: Vec<(f64, f64)> = [
            1000.0, 3000.0, 3400.0, 3900.0, 4200.0, 5000.0, 6000.0, 10_000.0,
        ]
        .into_iter()
        .map(|freq| (freq, gain_db(freq, 48_000)))
        .collect();
        for (freq, gain) in &measured {
            eprintln!("48 kHz -> 8 kHz: {freq:>6} Hz: {gain:8.2} dB");
        }
        let gain = |f: f64| measured.iter().find(|(freq, _)| *freq == f).unwrap().1;
        // Passband: speech frequencies come through essentially untouched.
        assert!(gain(1000.0).abs() < 0.1);
        assert!(gain(3000.0).abs() < 0.2);
        assert!(gain(3400.0).abs() < 0.5);
        // 3.9 kHz sits in the transition band: attenuated, but far less than 6 kHz.
        assert!(gain(3900.0) > -20.0);
        assert!(gain(3900.0) > gain(6000.0) + 40.0);
        // Above the stopband edge, what would alias is strongly attenuated (6 kHz would fold
        // to 2 kHz, right in the speech band).
        assert!(gain(4200.0) < -55.0);
        assert!(gain(5000.0) < -65.0);
        assert!(gain(6000.0) < -65.0);
        assert!(gain(10_000.0) < -65.0);
    }

    #[test]
    fn response_at_other_rates() {
        // (rate, least gain allowed at 3.4 kHz). At integer ratios every output lands on an
        // input sample and the response is the filter's alone; at fractional ratios linear
        // interpolation droops towards 4 kHz, the more the closer the rate is to 8 kHz.
        let cases = [
            (16_000, -0.05),
            (32_000, -0.05),
            (44_100, -0.25),
            (22_050, -1.0),
            (11_025, -3.0),
        ];
        for (rate, least_at_3400) in cases {
            let at_1000 = gain_db(1000.0, rate);
            let at_3400 = gain_db(3400.0, rate);
            let at_4200 = gain_db(4200.0, rate);
            let at_5000 = gain_db(5000.0, rate);
            eprintln!(
                "{rate} Hz -> 8 kHz: 1 kHz {at_1000:.2} dB, 3.4 kHz {at_3400:.2} dB, \
                 4.2 kHz {at_4200:.2} dB, 5 kHz {at_5000:.2} dB"
            );
            assert!(at_1000 > -0.3 && at_1000 < 0.05, "{rate}: {at_1000}");
            assert!(
                at_3400 > least_at_3400 && at_3400 < 0.05,
                "{rate}: {at_3400}"
            );
            assert!(at_4200 < -70.0, "{rate}: {at_4200}");
            assert!(at_5000 < -70.0, "{rate}: {at_5000}");
        }
        // Upsampling is linear interpolation only: fine for low frequencies.
        assert!(gain_db(440.0, 6_000) > -0.2);
        assert!(gain_db(1000.0, 6_000) > -1.5);
    }

    #[test]
    fn streaming_in_any_chunk_sizes_equals_one_shot() {
        let mut rng = Rng(0x5EED);
        for rate in [6_000, 11_025, 16_000, 22_050, 44_100, 48_000] {
            // Speech-like test signal: two tones plus noise, with full-scale peaks.
            let input: Vec<i16> = (0..rate as usize / 2)
                .map(|n| {
                    let t = n as f64 / f64::from(rate);
                    let noise = (rng.below(8001) as f64) - 4000.0;
                    let v = 15_000.0 * (2.0 * PI * 300.0 * t).sin()
                        + 12_000.0 * (2.0 * PI * 5_100.0 * t).sin()
                        + noise;
                    v.clamp(-32768.0, 32767.0) as i16
                })
                .collect();
            let one_shot = resample_to_8k(&input, rate).unwrap();

            for max_chunk in [1_u64, 7, 160, 1000, 5000] {
                let mut resampler = Resampler::new(rate).unwrap();
                let mut streamed = Vec::new();
                let mut rest = &input[..];
                while !rest.is_empty() {
                    // Includes empty chunks.
                    let size = (rng.below(max_chunk + 1) as usize).min(rest.len());
                    let (chunk, tail) = rest.split_at(size);
                    resampler.process(chunk, &mut streamed);
                    rest = tail;
                }
                resampler.flush(&mut streamed);
                assert_eq!(streamed, one_shot, "{rate} Hz, chunks up to {max_chunk}");
            }
        }
    }

    #[test]
    fn streaming_output_is_not_held_back_for_long() {
        let mut resampler = Resampler::new(48_000).unwrap();
        let mut out = Vec::new();
        resampler.process(&vec![100; 48_000], &mut out);
        // Held back: the filter's half-length (~2.7 ms) and one sample, i.e. 22 or 23
        // output samples at 8 kHz.
        let held = 8000 - out.len();
        assert!((20..=25).contains(&held), "{held}");
        resampler.flush(&mut out);
        assert_eq!(out.len(), 8000);
    }

    #[test]
    fn flush_resets_for_the_next_stream() {
        let input = tone(700.0, 44_100, 10_000, 9_000.0);
        let mut resampler = Resampler::new(44_100).unwrap();
        let mut first = Vec::new();
        resampler.process(&input, &mut first);
        resampler.flush(&mut first);
        let mut second = Vec::new();
        resampler.process(&input, &mut second);
        resampler.flush(&mut second);
        assert_eq!(first, second);
        let mut nothing = Vec::new();
        resampler.flush(&mut nothing);
        assert!(nothing.is_empty());
        assert_eq!(resampler.from_hz(), 44_100);
    }

    #[test]
    fn resampler_rejects_unusable_rates() {
        assert_eq!(Resampler::new(0).unwrap_err(), AudioError::ZeroSampleRate);
        assert_eq!(
            Resampler::new(MAX_RESAMPLE_INPUT_HZ + 1).unwrap_err(),
            AudioError::SampleRateTooHigh {
                got: MAX_RESAMPLE_INPUT_HZ + 1,
                max: MAX_RESAMPLE_INPUT_HZ
            }
        );
        assert_eq!(
            resample_to_8k(&[1, 2, 3], 0),
            Err(AudioError::ZeroSampleRate)
        );
        assert!(Resampler::new(1).is_ok());
        assert!(Resampler::new(MAX_RESAMPLE_INPUT_HZ).is_ok());
    }

    #[test]
    fn filter_is_symmetric_with_unity_dc_gain() {
        let taps = design_lowpass(48_000.0);
        assert_eq!(taps.len(), 261);
        assert!(
            taps.iter()
                .zip(taps.iter().rev())
                .all(|(a, b)| (a - b).abs() < 1e-15)
        );
        assert!((taps.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((bessel_i0(0.0) - 1.0).abs() < 1e-15);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-12);
    }

    #[test]
    fn downmix_averages_each_pair() {
        assert_eq!(
            downmix_stereo(&[
                100,
                200,
                -3,
                2,
                i16::MAX,
                i16::MAX,
                i16::MIN,
                i16::MIN,
                1,
                0,
                -1,
                0
            ]),
            vec![150, 0, i16::MAX, i16::MIN, 0, 0]
        );
        assert_eq!(
            downmix_stereo(&[10, 20, 30]),
            vec![15],
            "trailing half-frame dropped"
        );
        assert!(downmix_stereo(&[]).is_empty());
    }

    // ----- framing ------------------------------------------------------------------------

    fn numbered_audio(len: usize) -> MulawAudio {
        MulawAudio::from_mulaw_bytes((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
    }

    #[test]
    fn frame_sizes() {
        for (ms, bytes) in [(20, 160), (100, 800), (200, 1600)] {
            let mut framer = Framer::new(ms).unwrap();
            assert_eq!(framer.frame_ms(), ms);
            assert_eq!(framer.frame_bytes(), bytes);
            framer.push(&numbered_audio(bytes * 3));
            for _ in 0..3 {
                let frame = framer.next_frame().unwrap();
                assert_eq!(frame.len(), bytes);
                assert_eq!(frame.duration(), Duration::from_millis(u64::from(ms)));
            }
            assert!(framer.next_frame().is_none());
            assert!(framer.finish().is_none());
        }
        let framer = Framer::default();
        assert_eq!(
            (framer.frame_ms(), framer.frame_bytes()),
            (DEFAULT_FRAME_MS, 800)
        );
        assert_eq!(
            format!("{framer:?}"),
            "Framer { frame_ms: 100, pending_bytes: 0 }"
        );
    }

    #[test]
    fn frame_duration_out_of_range_is_an_error() {
        for ms in [0, 1, 19, 201, 1000, u32::MAX] {
            assert_eq!(
                Framer::new(ms).unwrap_err(),
                AudioError::FrameDurationOutOfRange { got_ms: ms }
            );
        }
        assert!(Framer::new(MIN_FRAME_MS).is_ok());
        assert!(Framer::new(MAX_FRAME_MS).is_ok());
    }

    #[test]
    fn many_small_pushes_give_the_same_frames_as_one_big_push() {
        let audio = numbered_audio(10_000);
        let mut big = Framer::new(40).unwrap();
        big.push(&audio);
        let mut expected = Vec::new();
        while let Some(frame) = big.next_frame() {
            expected.push(frame);
        }
        let expected_rest = big.finish();

        let mut rng = Rng(99);
        let mut small = Framer::new(40).unwrap();
        let mut frames = Vec::new();
        let mut rest = audio.as_bytes();
        while !rest.is_empty() {
            let size = (rng.below(50) as usize).min(rest.len());
            let (chunk, tail) = rest.split_at(size);
            small.push(&MulawAudio::from_mulaw_bytes(chunk));
            while let Some(frame) = small.next_frame() {
                frames.push(frame);
            }
            assert!(small.pending_bytes() < small.frame_bytes());
            rest = tail;
        }
        assert_eq!(frames, expected);
        assert_eq!(small.finish(), expected_rest);
        // 10 000 bytes = 31 frames of 320 bytes, and 80 bytes over.
        assert_eq!(expected.len(), 31);
        let joined: Vec<u8> = expected
            .iter()
            .flat_map(|f| f.as_bytes().to_vec())
            .collect();
        assert_eq!(&joined[..], &audio.as_bytes()[..9920]);
    }

    #[test]
    fn finish_returns_the_partial_remainder() {
        let mut framer = Framer::new(20).unwrap();
        framer.push(&numbered_audio(100));
        assert!(framer.next_frame().is_none(), "less than a frame");
        framer.push(&numbered_audio(100));
        let frame = framer.next_frame().unwrap();
        assert_eq!(frame.len(), 160);
        assert_eq!(framer.pending_bytes(), 40);
        let rest = framer.finish().unwrap();
        assert_eq!(rest.as_bytes(), &numbered_audio(100).as_bytes()[60..]);
        assert_eq!(rest.duration(), Duration::from_millis(5));
        assert!(Framer::default().finish().is_none());
    }
}
