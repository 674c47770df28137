//! The one description of "what went wrong" that crosses to JavaScript. `lib/errors.js`
//! (`fromFailure`) turns each `kind` into its public error class once; Rust only has to say
//! which and fill the fields.

use serde::Serialize;

use crate::secrets::Secrets;

/// Which public error class a failure becomes (`index.d.ts`, "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureKind {
    Api,
    Auth,
    RateLimit,
    Connection,
    Timeout,
    Abort,
    Stream,
    Parse,
    Incomplete,
    /// A bug inside the engine (a caught panic): reported on that stream only.
    Internal,
}

/// A failure with every field any error class may carry; absent fields are not serialised.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Response headers (lower-case names) of a non-2xx answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<(String, String)>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// `headers` or `idle` for timeouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<&'static str>,
    /// The first 200 bytes of the offending line for parse errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// How many HTTP attempts were made before giving up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The underlying errors' texts, outermost first (reqwest, hyper, io): what `message`
    /// says in our words, as the transport said it. JS turns them into the `cause` chain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            status: None,
            error_type: None,
            api_code: None,
            param: None,
            request_id: None,
            headers: None,
            retry_after_ms: None,
            phase: None,
            line: None,
            attempts: None,
            causes: Vec::new(),
        }
    }

    /// The same failure, with the chain of `error` and its sources as its causes.
    pub fn caused_by(mut self, error: &dyn std::error::Error) -> Self {
        let mut next: Option<&dyn std::error::Error> = Some(error);
        while let Some(cause) = next {
            self.causes.push(cause.to_string());
            next = cause.source();
        }
        self
    }

    pub fn timeout(phase: &'static str, ms: u64) -> Self {
        let what = if phase == "headers" {
            format!("no response headers within {ms} ms (timeout)")
        } else {
            format!("no bytes from the server for {ms} ms while streaming (idleTimeout)")
        };
        Failure {
            phase: Some(phase),
            ..Failure::new(FailureKind::Timeout, what)
        }
    }

    /// Removes every credential of the request from the texts this failure carries, so that a
    /// server or proxy echoing a key back can never leak it through an error.
    pub fn redact(mut self, secrets: &Secrets) -> Self {
        let scrub = |s: &mut String| secrets.scrub_in_place(s);
        scrub(&mut self.message);
        for text in [
            &mut self.line,
            &mut self.param,
            &mut self.api_code,
            &mut self.error_type,
        ]
        .into_iter()
        .flatten()
        {
            scrub(text);
        }
        for cause in &mut self.causes {
            scrub(cause);
        }
        for (_, value) in self.headers.iter_mut().flatten() {
            scrub(value);
        }
        self
    }
}

/// Cuts `text` to at most `max` bytes at a char boundary.
pub fn truncate_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
