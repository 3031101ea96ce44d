//! The recording's audio file: a valid MP3 of digital silence as long as the session.
//!
//! The emulator has no MP3 encoder (and the audio it receives is arbitrary), so the
//! download is an ID3v2.4 tag (with a `TIT2` title naming the session) followed by
//! silent MPEG-2.5 Layer III frames at 8 kHz mono, 8 kbit/s: 72-byte frames of 576
//! samples (72 ms) each. Players and decoders accept it; its length matches the
//! recording's `duration`.

/// One silent frame: header `FF E3 18 C0` (MPEG-2.5, Layer III, no CRC, 8 kbit/s,
/// 8000 Hz, no padding, mono), then all-zero side information and main data.
const FRAME_HEADER: [u8; 4] = [0xFF, 0xE3, 0x18, 0xC0];
const FRAME_LEN: usize = 72;
const FRAME_MS: f64 = 72.0;
/// The longest file produced: 4 hours.
const MAX_FRAMES: usize = (4.0 * 3600.0 * 1000.0 / FRAME_MS) as usize;

/// The file for a recording of `duration_seconds` of session `session_id`.
pub(crate) fn silent_mp3(session_id: &str, duration_seconds: f64) -> Vec<u8> {
    let frames =
        ((duration_seconds.max(0.0) * 1000.0 / FRAME_MS).ceil() as usize).clamp(1, MAX_FRAMES);
    let tag = id3_tag(&format!("Kallglot mock recording {session_id}"));
    let mut out = Vec::with_capacity(tag.len() + frames * FRAME_LEN);
    out.extend_from_slice(&tag);
    for _ in 0..frames {
        out.extend_from_slice(&FRAME_HEADER);
        out.resize(out.len() + FRAME_LEN - FRAME_HEADER.len(), 0);
    }
    out
}

/// An ID3v2.4 tag with one UTF-8 `TIT2` (title) frame.
fn id3_tag(title: &str) -> Vec<u8> {
    let mut frame_body = vec![0x03]; // text encoding: UTF-8
    frame_body.extend_from_slice(title.as_bytes());
    let mut frame = b"TIT2".to_vec();
    frame.extend_from_slice(&synchsafe(frame_body.len()));
    frame.extend_from_slice(&[0, 0]); // frame flags
    frame.extend_from_slice(&frame_body);
    let mut tag = b"ID3".to_vec();
    tag.extend_from_slice(&[4, 0, 0]); // version 2.4.0, no flags
    tag.extend_from_slice(&synchsafe(frame.len()));
    tag.extend_from_slice(&frame);
    tag
}

/// A 28-bit size as four 7-bit bytes, as ID3v2.4 writes sizes.
fn synchsafe(n: usize) -> [u8; 4] {
    let n = n as u32;
    [
        ((n >> 21) & 0x7F) as u8,
        ((n >> 14) & 0x7F) as u8,
        ((n >> 7) & 0x7F) as u8,
        (n & 0x7F) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_a_tag_then_whole_frames_covering_the_duration() {
        let file = silent_mp3("sess_1", 1.0);
        assert_eq!(&file[..3], b"ID3");
        let tag_len = 10
            + ((file[6] as usize) << 21
                | (file[7] as usize) << 14
                | (file[8] as usize) << 7
                | file[9] as usize);
        let audio = &file[tag_len..];
        assert_eq!(audio.len() % FRAME_LEN, 0);
        assert_eq!(audio.len() / FRAME_LEN, 14, "ceil(1000 ms / 72 ms)");
        assert!(audio.chunks(FRAME_LEN).all(|f| f[..4] == FRAME_HEADER));
        assert_eq!(
            silent_mp3("sess_1", 0.0).len(),
            tag_len + FRAME_LEN,
            "at least one frame"
        );
    }
}
