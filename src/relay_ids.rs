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

const EVENT_END: &[u8] = b"\n\n";

/// How many events `bytes` holds: its blank lines, found left to right without overlap.
pub fn event_count(bytes: &[u8]) -> usize {
    memmem::find_iter(bytes, EVENT_END).count()
}

/// The longest id line `with_ids_into` writes for `events` events numbered from `first`.
pub fn id_line_max(ms: u64, first: u64, events: usize) -> usize {
    // `id: ` + ms + `-` + the largest seq + `\n`
    4 + digits(ms) + 1 + digits(first + events.saturating_sub(1) as u64) + 1
}

fn digits(mut n: u64) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// Writes `n`'s decimal digits at the start of `out`; returns how many.
fn write_decimal(out: &mut [u8], mut n: u64) -> usize {
    let len = digits(n);
    for slot in out[..len].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    len
}

/// What `with_ids_into` wrote: `len` bytes holding `events` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub len: usize,
    pub events: usize,
}

/// Writes `bytes` into `out` with `id: {ms}-{first + k}\n` before its `k`-th event; `None`
/// when `out` is too short (nothing useful was written). `out` comes from the caller so that
/// a relay can reuse its buffers: a fresh 90 KB buffer per batch (allocated, first touched,
/// freed) cost more than the writing. It counts the events as it goes, so that a relay with a
/// buffer large enough scans the batch once.
pub fn with_ids_into(bytes: &[u8], out: &mut [u8], ms: u64, first: u64) -> Option<Written> {
    let mut prefix = [0u8; 4 + 20 + 1];
    prefix[..4].copy_from_slice(b"id: ");
    let prefix_len = 4 + write_decimal(&mut prefix[4..], ms) + 1;
    prefix[prefix_len - 1] = b'-';
    let mut to = 0;
    let mut from = 0;
    let mut events = 0;
    for (k, at) in memmem::find_iter(bytes, EVENT_END).enumerate() {
        let end = at + EVENT_END.len();
        let event = &bytes[from..end];
        let seq = first + k as u64;
        if out.len() < to + prefix_len + digits(seq) + 1 + event.len() {
            return None;
        }
        out[to..to + prefix_len].copy_from_slice(&prefix[..prefix_len]);
        to += prefix_len;
        to += write_decimal(&mut out[to..], seq);
        out[to] = b'\n';
        to += 1;
        out[to..to + event.len()].copy_from_slice(event);
        to += event.len();
        from = end;
        events = k + 1;
    }
    Some(Written { len: to, events })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bytes` with `id: {ms}-{first + k}\n` before its `k`-th event, in a new buffer.
    fn with_ids(bytes: &[u8], ms: u64, first: u64) -> Vec<u8> {
        let events = event_count(bytes);
        let mut out = vec![0; bytes.len() + events * id_line_max(ms, first, events)];
        let written = with_ids_into(bytes, &mut out, ms, first).expect("sized for every id line");
        assert_eq!(written.events, events);
        out.truncate(written.len);
        out
    }

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
        let out = with_ids(
            b"data: {\"a\":1}\n\nevent: x\ndata: 2\n\n",
            1_764_594_724_000,
            9,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id: 1764594724000-9\ndata: {\"a\":1}\n\nid: 1764594724000-10\nevent: x\ndata: 2\n\n"
        );
    }

    #[test]
    fn leaves_out_an_unterminated_tail_and_keeps_bytes_as_they_are() {
        // Multi-byte UTF-8 is copied byte for byte.
        let out = with_ids("data: \"é😀\"\n\ndata: 2".as_bytes(), 5, 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id: 5-0\ndata: \"é😀\"\n\n"
        );
        assert!(with_ids(b"", 5, 0).is_empty());
        assert!(with_ids(b"data: 1\n", 5, 0).is_empty());
    }

    #[test]
    fn numbers_past_u32_and_many_events() {
        let batch: Vec<u8> = (0..300)
            .flat_map(|_| b"data: {}\n\n".iter().copied())
            .collect();
        let out =
            String::from_utf8(with_ids(&batch, u64::from(u32::MAX) + 7, 4_294_967_290)).unwrap();
        let ids: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("id: ")).collect();
        assert_eq!(ids.len(), 300);
        assert_eq!(ids[0], "4294967302-4294967290");
        assert_eq!(ids[299], "4294967302-4294967589");
        assert_eq!(event_count(out.as_bytes()), 300);
    }

    #[test]
    fn writes_into_a_given_buffer_or_says_it_is_too_short() {
        let batch = b"data: 1\n\ndata: 22\n\n";
        let ms = 1_764_594_724_000;
        let need = batch.len() + 2 * id_line_max(ms, 98, 2);
        let mut out = vec![b'x'; need];
        let Written { len, events } = with_ids_into(batch, &mut out, ms, 98).unwrap();
        assert_eq!(events, 2);
        assert_eq!(
            &out[..len],
            b"id: 1764594724000-98\ndata: 1\n\nid: 1764594724000-99\ndata: 22\n\n"
        );
        // id_line_max is exact for the longest line: 99 and 98 have as many digits.
        assert_eq!(len, need);
        assert_eq!(with_ids_into(batch, &mut out[..len - 1], ms, 98), None);
        assert_eq!(with_ids_into(batch, &mut [], ms, 98), None);
        assert_eq!(
            with_ids_into(b"", &mut [], ms, 98),
            Some(Written { len: 0, events: 0 })
        );
        assert_eq!(id_line_max(5, 9, 2), "id: 5-10\n".len());
        assert_eq!(id_line_max(5, 0, 0), "id: 5-0\n".len());
    }
}
