//! The typed shapes that cross N-API once per client or per stream: configuration, request
//! options, response metadata, failures and how a stream ended. napi generates their
//! TypeScript in `binding.d.ts`, so the one description of each lives here and the engine's
//! own types (`http`, `failure`, `decode`) stay free of napi.
//!
//! Per-batch data (deltas, raw chunks, relay bytes, SseParser output) does not use these: it
//! crosses as a few strings or one buffer per batch, which was measured to win (README,
//! "Performance").

use napi_derive::napi;

use crate::decode::End;
use crate::failure::{Failure, FailureKind};
use crate::http::{AzureConfig, ClientConfig, ProxyConfig, RequestOptions, ResponseMeta};
use crate::relay::RelayFormat;

/// Which API a stream speaks: picks the wire parser.
#[napi(string_enum = "lowercase")]
pub enum WireFormat {
    Chat,
    Responses,
    Completions,
}

/// How a batch is re-encoded for clients (`pipeTo` and friends).
#[napi(string_enum = "lowercase", js_name = "RelayFormat")]
pub enum JsRelayFormat {
    /// `data: {chunk}` SSE, the provider's chunks as they came.
    Openai,
    /// Named SSE events for `EventSource`.
    Events,
    /// Plain content text of choice 0.
    Text,
    /// One Delta JSON per line.
    Ndjson,
    /// The AI SDK's UI message stream (a relay renders it with a `NativeUiRenderer`).
    #[napi(value = "ai-sdk")]
    AiSdk,
}

impl From<JsRelayFormat> for RelayFormat {
    fn from(format: JsRelayFormat) -> Self {
        match format {
            JsRelayFormat::Openai => RelayFormat::OpenAi,
            JsRelayFormat::Events => RelayFormat::Events,
            JsRelayFormat::Text => RelayFormat::Text,
            JsRelayFormat::Ndjson => RelayFormat::Ndjson,
            JsRelayFormat::AiSdk => RelayFormat::AiSdk,
        }
    }
}

/// Azure OpenAI layout: `/openai/deployments/{deployment}/...?api-version=` and `api-key`.
#[napi(object, js_name = "AzureConfig")]
pub struct JsAzureConfig {
    pub api_version: String,
    pub deployment: Option<String>,
}

/// Client-wide settings, as `lib/client.js` validated them (every default already applied).
#[napi(object, js_name = "ClientConfig")]
pub struct JsClientConfig {
    /// `baseURL` without a trailing slash.
    pub base_url: String,
    pub api_key: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    /// `[name, value]` pairs, in the order given (a request's value replaces the client's).
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    /// Until response headers, per attempt.
    pub timeout_ms: f64,
    /// Between body bytes while streaming.
    pub idle_timeout_ms: f64,
    pub max_retries: u32,
    pub max_event_bytes: Option<f64>,
    pub azure: Option<JsAzureConfig>,
    /// Debug log lines on stderr (`log: 'debug'` or `STREAMDELTA_LOG=debug`).
    pub debug: bool,
    /// PEM texts of the `ca` option (each one or more certificates), trusted on top of the
    /// system's roots.
    pub ca: Vec<String>,
    /// `process.env.NODE_EXTRA_CA_CERTS`: a PEM file read when the client is made (a file that
    /// cannot be read gets a warning on stderr, as Node gives, and is skipped).
    pub extra_ca_file: Option<String>,
    /// The `proxy` option's URL: every request goes through it.
    pub proxy: Option<String>,
    /// `proxy: false`: no proxy, whatever HTTPS_PROXY / HTTP_PROXY say. With neither, the
    /// environment's proxy (reqwest reads it, with curl's rules).
    pub proxy_off: bool,
}

impl From<JsClientConfig> for ClientConfig {
    fn from(config: JsClientConfig) -> Self {
        ClientConfig {
            base_url: config.base_url,
            api_key: config.api_key,
            organization: config.organization,
            project: config.project,
            headers: config.headers,
            query: config.query,
            timeout_ms: config.timeout_ms as u64,
            idle_timeout_ms: config.idle_timeout_ms as u64,
            max_retries: config.max_retries,
            max_event_bytes: config.max_event_bytes.map(|n| n as usize),
            azure: config.azure.map(|azure| AzureConfig {
                api_version: azure.api_version,
                deployment: azure.deployment,
            }),
            debug: config.debug,
            ca: config.ca,
            extra_ca_file: config.extra_ca_file,
            proxy: match (config.proxy, config.proxy_off) {
                (_, true) => ProxyConfig::Off,
                (Some(url), false) => ProxyConfig::Url(url),
                (None, false) => ProxyConfig::FromEnv,
            },
        }
    }
}

/// Per-request overrides (the second argument of every call); absent means the client's.
#[napi(object, js_name = "RequestOptions")]
pub struct JsRequestOptions {
    pub headers: Option<Vec<(String, String)>>,
    pub query: Option<Vec<(String, String)>>,
    pub timeout_ms: Option<f64>,
    pub idle_timeout_ms: Option<f64>,
    pub max_retries: Option<u32>,
    /// Replaces the client's key for this request; scrubbed from everything it returns.
    pub api_key: Option<String>,
    /// A background Responses request: a stream that breaks after sequence-numbered events is
    /// resumed with `starting_after` (within `maxRetries`).
    pub resume: Option<bool>,
    /// `partialJson: true`: tool call deltas carry their arguments parsed so far.
    pub partial_json: Option<bool>,
    /// The body asked for JSON output (`response_format` / `text.format` json_schema or
    /// json_object): `final()` gets `parsed` / `output_parsed`.
    pub json_output: Option<bool>,
}

impl From<JsRequestOptions> for RequestOptions {
    fn from(options: JsRequestOptions) -> Self {
        RequestOptions {
            headers: options.headers.unwrap_or_default(),
            query: options.query.unwrap_or_default(),
            timeout_ms: options.timeout_ms.map(|ms| ms as u64),
            idle_timeout_ms: options.idle_timeout_ms.map(|ms| ms as u64),
            max_retries: options.max_retries,
            api_key: options.api_key,
            resume: options.resume.unwrap_or(false),
        }
    }
}

/// `stream.response`: what arrived with the headers of a 2xx answer.
#[napi(object, js_name = "ResponseMeta")]
pub struct JsResponseMeta {
    pub status: u32,
    /// Lower-case names, in arrival order (repeated names repeat).
    pub headers: Vec<(String, String)>,
    pub request_id: Option<String>,
    /// `'1.1'` or `'2'` (HTTP/2 when the server offered it by ALPN).
    pub http_version: String,
}

impl From<ResponseMeta> for JsResponseMeta {
    fn from(meta: ResponseMeta) -> Self {
        JsResponseMeta {
            status: meta.status.into(),
            headers: meta.headers,
            request_id: meta.request_id,
            http_version: meta.http_version.to_string(),
        }
    }
}

/// Which public error class a failure becomes (`lib/errors.js` maps each once).
#[napi(string_enum = "camelCase", js_name = "FailureKind")]
pub enum JsFailureKind {
    Api,
    Auth,
    RateLimit,
    Connection,
    Timeout,
    Abort,
    Stream,
    Parse,
    Incomplete,
    /// A bug inside the engine (a caught panic), reported on that stream only.
    Internal,
}

impl From<FailureKind> for JsFailureKind {
    fn from(kind: FailureKind) -> Self {
        match kind {
            FailureKind::Api => JsFailureKind::Api,
            FailureKind::Auth => JsFailureKind::Auth,
            FailureKind::RateLimit => JsFailureKind::RateLimit,
            FailureKind::Connection => JsFailureKind::Connection,
            FailureKind::Timeout => JsFailureKind::Timeout,
            FailureKind::Abort => JsFailureKind::Abort,
            FailureKind::Stream => JsFailureKind::Stream,
            FailureKind::Parse => JsFailureKind::Parse,
            FailureKind::Incomplete => JsFailureKind::Incomplete,
            FailureKind::Internal => JsFailureKind::Internal,
        }
    }
}

/// What went wrong, with every field any error class may carry (absent when not known).
#[napi(object, js_name = "Failure")]
pub struct JsFailure {
    pub kind: JsFailureKind,
    /// Never contains the API key (scrubbed by the engine).
    pub message: String,
    pub status: Option<u32>,
    /// The provider's error `type`.
    #[napi(js_name = "type")]
    pub error_type: Option<String>,
    /// The provider's error `code` (a string even when the provider sent a number).
    pub api_code: Option<String>,
    pub param: Option<String>,
    pub request_id: Option<String>,
    /// Response headers (lower-case names) of a non-2xx answer.
    pub headers: Option<Vec<(String, String)>>,
    pub retry_after_ms: Option<f64>,
    /// `'headers'` or `'idle'` for timeouts.
    pub phase: Option<String>,
    /// The first 200 bytes of the offending line, for parse errors.
    pub line: Option<String>,
    /// How many HTTP attempts were made before giving up.
    pub attempts: Option<u32>,
    /// The transport's own error texts, outermost first; they become the error's `cause` chain.
    pub causes: Option<Vec<String>>,
}

impl From<Failure> for JsFailure {
    fn from(failure: Failure) -> Self {
        JsFailure {
            kind: failure.kind.into(),
            message: failure.message,
            status: failure.status.map(u32::from),
            error_type: failure.error_type,
            api_code: failure.api_code,
            param: failure.param,
            request_id: failure.request_id,
            headers: failure.headers,
            retry_after_ms: failure.retry_after_ms.map(|ms| ms as f64),
            phase: failure.phase.map(str::to_string),
            line: failure.line,
            attempts: failure.attempts,
            causes: (!failure.causes.is_empty()).then_some(failure.causes),
        }
    }
}

/// `await stream.response()` on the native side: headers arrived, or the request failed.
/// Resolved, never rejected, because a rejected N-API promise cannot carry the failure's fields.
#[allow(clippy::large_enum_variant)] // once per stream, straight into JS
#[napi(discriminant = "type", discriminant_case = "lowercase")]
pub enum ResponseOutcome {
    Ready { response: JsResponseMeta },
    Failed { failure: JsFailure },
}

/// How a stream ended, on its last batch. The accumulated result stays JSON text: the wire
/// parser writes it as JSON once, and `JSON.parse` builds the object faster than N-API calls
/// per property would.
// Made once per stream and handed straight to JS: the size of the failure variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[napi(discriminant = "type", discriminant_case = "lowercase")]
pub enum StreamEnd {
    /// The stream completed: `finalJson` is the API object, as the non-streaming call returns it.
    Done { final_json: String },
    /// The stream failed; `partialJson` is what had accumulated when any body byte arrived.
    Failed {
        failure: JsFailure,
        partial_json: Option<String>,
    },
}

impl From<&End> for StreamEnd {
    fn from(end: &End) -> Self {
        match end {
            End::Finished { final_json } => StreamEnd::Done {
                final_json: final_json.clone(),
            },
            End::Failed {
                failure,
                partial_json,
            } => StreamEnd::Failed {
                failure: (**failure).clone().into(),
                partial_json: partial_json.clone(),
            },
        }
    }
}
