//! streamdelta: OpenAI-compatible streams parsed in Rust, handed to Node.js in batches.
//! Data flows one way: socket bytes -> `sse` -> `openai` -> `stream` -> `binding`.

pub mod allocator;
pub mod decode;
pub mod failure;
pub mod http;
pub mod net;
pub mod openai;
pub mod relay;
pub mod relay_ids;
pub mod secrets;
pub mod sse;
pub mod sse_pack;
pub mod stream;
pub mod supervised;

mod binding;
