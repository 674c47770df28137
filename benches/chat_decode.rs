//! Cost of decoding one paced chat chunk on the engine thread: SSE framing, the chunk's JSON,
//! the accumulation and the batch, the way `stream.rs` runs it (one `push` per network read, one
//! chunk per read, the batch taken after each), in ns per chunk.
//!
//! Run with `cargo bench --bench chat_decode`. The chunks are shaped like bench/paced-server.mjs's
//! (OpenAI's key order, a stamp and multi-byte text, the `obfuscation` pad). The consumer is a
//! `text()` reader: no Delta JSON, no raw objects, no object patches (JS turns those off).
//!
//! Plain `main` with no harness: the crate must not grow dependencies just for a benchmark.

use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;
use streamdelta::decode::Decoder;
use streamdelta::openai::chat::ChatParser;

const STREAMS: usize = 1_000;
const CHUNKS: usize = 100;
const REPS: usize = 7;

fn chunk(content: &str, pad: &str) -> String {
    format!(
        "data: {{\"id\":\"chatcmpl-xxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_abcdefghij\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}},\"logprobs\":null,\"finish_reason\":null}}],\"obfuscation\":\"{pad}\"}}\n\n"
    )
}

fn main() {
    let role = "data: {\"id\":\"chatcmpl-xxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_abcdefghij\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"obfuscation\":\"ab\"}\n\n";
    let chunks: Vec<String> = (0..CHUNKS)
        .map(|i| {
            let pad = "Qz7kLmP2xRt9Vw".get(..2 + (i * 7) % 12).unwrap_or("ab");
            chunk(
                &format!("1767225600{:03}.{:03}|é東🙂", i % 1000, i % 997),
                pad,
            )
        })
        .collect();
    let mut runs = Vec::new();
    for _ in 0..REPS {
        let mut decoders: Vec<Decoder> = (0..STREAMS)
            .map(|_| {
                let off = || Arc::new(AtomicBool::new(false));
                Decoder::new(Box::new(ChatParser::new()), None)
                    .with_delta_json_switch(off())
                    .with_objects_switch(off())
                    .with_raw_json_switch(off())
            })
            .collect();
        for d in &mut decoders {
            d.push(role.as_bytes());
            black_box(d.take_batch());
        }
        let started = Instant::now();
        let mut text_bytes = 0;
        // Round-robin, as the paced server writes: every stream's chunk i, then chunk i + 1.
        for c in &chunks {
            for d in &mut decoders {
                d.push(c.as_bytes());
                text_bytes += black_box(d.take_batch()).text.len();
            }
        }
        let ns = started.elapsed().as_nanos() as f64 / (STREAMS * CHUNKS) as f64;
        assert_eq!(text_bytes, STREAMS * CHUNKS * 27);
        runs.push(ns);
    }
    runs.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{STREAMS} streams x {CHUNKS} chunks, one push and one batch per chunk: {:.0} ns per chunk (median of {REPS}; min {:.0}, max {:.0})",
        runs[REPS / 2],
        runs[0],
        runs[REPS - 1]
    );
}
