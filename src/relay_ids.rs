//! SSE ids for a resumable relay (`lib/relay-store.js`): every event of a rendered batch gets
//! `id: {ms}-{seq}`, the Redis stream id it is recorded under, before its lines. This ran in JS
//! once (one `indexOf` to find each event's end, one `write` and one `copy` per event: three
//! N-API calls per event, 250 events a batch), which was the largest part of what recording
//! cost the JS thread (`--cpu-prof` of `bench/relay.mjs`'s resumable row); here it is one
//! `memmem` scan and one copy per batch.
//!
//! An event is what a relay format renders: lines ending with a blank line (`\n\n`), whose
//! data lines are JSON, so no payload holds a raw newline. Bytes after the last blank line
//! (none in a rendered batch) are not an event and are left out, as a resumer's replay of the
//! same entry leaves them out.

use memchr::memmem;
use std::io::Write;

const EVENT_END: &[u8] = b"\n\n";

/// How many events `bytes` holds: its blank lines, found left to right without overlap.
pub fn event_count(bytes: &[u8]) -> usize {
    memmem::find_iter(bytes, EVENT_END).count()
}

/// `bytes` with `id: {ms}-{first + k}\n` before its `k`-th event.
pub fn with_ids(bytes: &[u8], ms: u64, first: u64) -> Vec<u8> {
    // An id line is at most `id: ` + 20 digits + `-` + 20 digits + `\n`; rendered events are
    // hundreds of bytes, so a guess of 32 per 256 bytes rarely reallocates.
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 8 + 64);
    let mut from = 0;
    for (k, at) in memmem::find_iter(bytes, EVENT_END).enumerate() {
        let end = at + EVENT_END.len();
        // Writing into a Vec cannot fail.
        let _ = write!(out, "id: {ms}-{}\n", first + k as u64);
        out.extend_from_slice(&bytes[from..end]);
        from = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_events_by_their_blank_lines() {
        assert_eq!(event_count(b""), 0);
        assert_eq!(event_count(b"data: {}\n\n"), 1);
        assert_eq!(event_count(b"event: a\ndata: 1\n\ndata: 2\n\n"), 2);
        // Three newlines are one blank line and the start of the next event's line.
        assert_eq!(event_count(b"data: 1\n\n\ndata: 2\n\n"), 2);
        // An unterminated tail is not an event.
        assert_eq!(event_count(b"data: 1\n\ndata: 2\n"), 1);
    }

    #[test]
    fn puts_an_id_before_every_event() {
        let out = with_ids(b"data: {\"a\":1}\n\nevent: x\ndata: 2\n\n", 1_764_594_724_000, 9);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id: 1764594724000-9\ndata: {\"a\":1}\n\nid: 1764594724000-10\nevent: x\ndata: 2\n\n"
        );
    }

    #[test]
    fn leaves_out_an_unterminated_tail_and_keeps_bytes_as_they_are() {
        // Multi-byte UTF-8 is copied byte for byte.
        let out = with_ids("data: \"é😀\"\n\ndata: 2".as_bytes(), 5, 0);
        assert_eq!(String::from_utf8(out).unwrap(), "id: 5-0\ndata: \"é😀\"\n\n");
        assert!(with_ids(b"", 5, 0).is_empty());
        assert!(with_ids(b"data: 1\n", 5, 0).is_empty());
    }

    #[test]
    fn numbers_past_u32_and_many_events() {
        let batch: Vec<u8> = (0..300).flat_map(|_| b"data: {}\n\n".iter().copied()).collect();
        let out = String::from_utf8(with_ids(&batch, u64::from(u32::MAX) + 7, 4_294_967_290)).unwrap();
        let ids: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("id: ")).collect();
        assert_eq!(ids.len(), 300);
        assert_eq!(ids[0], "4294967302-4294967290");
        assert_eq!(ids[299], "4294967302-4294967589");
        assert_eq!(event_count(out.as_bytes()), 300);
    }
}
