//! What the emulator's streams received: per session, how much `audio.input` was accepted
//! or refused and over how much wall time, so a test can check that a client sends
//! μ-law 8 kHz audio at a real-time pace (a browser page, say, that the test cannot
//! instrument from inside).

use std::time::Duration;

use tokio::time::Instant;

/// The `audio.input` one session's streams received, as counted by the emulator.
///
/// Accepted frames are μ-law 8 kHz by construction (anything else is refused with
/// `invalid_audio_format`), so one accepted byte is one 125 µs sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AudioStats {
    /// Accepted `audio.input` frames (μ-law, 8000 Hz, valid base64, not empty).
    pub frames: u64,
    /// μ-law bytes (samples) in the accepted frames.
    pub bytes: u64,
    /// `audio.input` frames refused with `invalid_audio_format`.
    pub refused: u64,
    /// Wall time from the first accepted frame's arrival to the last one's: for a client
    /// pacing in real time, about [`audio`](Self::audio) minus one frame.
    pub span: Duration,
}

impl AudioStats {
    /// How much audio the accepted bytes hold (8000 bytes a second).
    pub fn audio(&self) -> Duration {
        Duration::from_micros(self.bytes * 125)
    }
}

/// The running count behind [`AudioStats`].
#[derive(Debug, Default)]
pub(crate) struct AudioCounter {
    stats: AudioStats,
    first_at: Option<Instant>,
}

impl AudioCounter {
    pub fn accepted(&mut self, bytes: usize, at: Instant) {
        self.stats.frames += 1;
        self.stats.bytes += bytes as u64;
        let first = *self.first_at.get_or_insert(at);
        self.stats.span = at.saturating_duration_since(first);
    }

    pub fn refused(&mut self) {
        self.stats.refused += 1;
    }

    pub fn stats(&self) -> AudioStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_frames_bytes_and_the_span_between_arrivals() {
        let start = Instant::now();
        let mut counter = AudioCounter::default();
        counter.accepted(800, start);
        counter.refused();
        counter.accepted(800, start + Duration::from_millis(100));
        let stats = counter.stats();
        assert_eq!((stats.frames, stats.bytes, stats.refused), (2, 1600, 1));
        assert_eq!(stats.span, Duration::from_millis(100));
        assert_eq!(stats.audio(), Duration::from_millis(200));
    }
}
