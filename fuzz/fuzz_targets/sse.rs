//! Fuzzes the SSE parser: the first input byte says how to split the rest into `feed` calls;
//! the parser must not panic and must give the same events (and the same error, if any) as
//! when the rest is fed whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamdelta::sse::{SseError, SseEvent, SseParser};

fuzz_target!(|input: &[u8]| {
    let Some((&control, bytes)) = input.split_first() else {
        return;
    };
    // Low 6 bits: the piece size (0 = one byte at a time). High 2 bits: the event limit, small
    // ones half of the time so that the limit error is fuzzed too.
    let piece = usize::from(control & 0x3f).max(1);
    let limit = match control >> 6 {
        2 => 64,
        3 => 1024,
        _ => streamdelta::sse::DEFAULT_MAX_EVENT_BYTES,
    };

    let whole = run(limit, std::iter::once(bytes));
    let split = run(limit, bytes.chunks(piece));
    assert_eq!(whole, split, "split into pieces of {piece} bytes");
});

fn run<'a>(
    limit: usize,
    pieces: impl Iterator<Item = &'a [u8]>,
) -> (Vec<SseEvent>, Option<SseError>) {
    let mut parser = SseParser::with_max_event_bytes(limit);
    let mut events = Vec::new();
    for piece in pieces {
        if let Err(error) = parser.feed(piece, &mut events) {
            return (events, Some(error));
        }
    }
    let error = parser.finish(&mut events).err();
    assert!(events.iter().all(|e| !e.data.contains('\r')));
    (events, error)
}
