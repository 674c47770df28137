//! How a provider's error is read, wherever it comes from: the one mapping of an OpenAI error
//! object (`{"message", "type", "param", "code"}`, or a bare string) to a `WireError` (an error
//! inside a stream) or a `Failure` (the JSON body of a failed request, read by `http`), the
//! `event: error` payloads of each wire format, and the parse error for a bad payload.

use serde_json::Value;

use super::WireError;
use crate::failure::{Failure, FailureKind};

/// How much of an offending payload a parse error quotes.
pub(crate) const QUOTE_BYTES: usize = 200;
/// The message of a provider error object that carries none.
pub(crate) const NO_MESSAGE: &str = "the provider reported an error without a message";
/// The message of an `event: error` whose data is empty.
const NO_DETAILS: &str = "the provider sent an error event without details";

pub(crate) fn parse_error(message: String, data: &str) -> WireError {
    let mut end = data.len().min(QUOTE_BYTES);
    while !data.is_char_boundary(end) {
        end -= 1;
    }
    WireError::Parse {
        message,
        line: data[..end].to_owned(),
    }
}

/// The fields of an OpenAI error object, read with one rule for all of them: a non-empty
/// string is kept, a number (an integer `code`) becomes its text, and anything else (missing,
/// `null`, an empty string, another type) is absent. A bare string is the message itself.
struct ErrorFields {
    message: Option<String>,
    kind: Option<String>,
    code: Option<String>,
    param: Option<String>,
}

fn error_fields(error: &Value) -> ErrorFields {
    let field = |key: &str| match error.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let message = match error {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => field("message"),
    };
    ErrorFields {
        message,
        kind: field("type"),
        code: field("code"),
        param: field("param"),
    }
}

/// An error object inside a stream. Without a message it says so (`NO_MESSAGE`).
/// A data line the wire parser could not read as `what` (e.g. "chat completion chunk"): an
/// error object from the provider, text that is not JSON, or JSON of another shape.
pub(crate) fn bad_payload(data: &str, error: &serde_json::Error, what: &str) -> WireError {
    match serde_json::from_str::<Value>(data) {
        Err(e) => parse_error(format!("data line is not valid JSON: {e}"), data),
        Ok(Value::Object(object)) if object.get("error").is_some_and(|e| !e.is_null()) => {
            provider_error(&object["error"])
        }
        Ok(_) => parse_error(format!("data line is not a {what}: {error}"), data),
    }
}

pub(crate) fn provider_error(error: &Value) -> WireError {
    let fields = error_fields(error);
    WireError::Provider {
        message: fields.message.unwrap_or_else(|| NO_MESSAGE.to_owned()),
        kind: fields.kind,
        code: fields.code,
        param: fields.param,
    }
}

/// The body of a failed request: `{"error": {..}}` or `{"error": "text"}` -> a failure of kind
/// `Api` (`http` then sets the kind from the status). Without a message, the message is the
/// error value's JSON text, so an unusual error shape still shows what the server said.
pub(crate) fn error_from_json(body: &str) -> Option<Failure> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        error: Value,
    }
    let envelope: Envelope = serde_json::from_str(body.trim()).ok()?;
    let error = &envelope.error;
    let fields = error_fields(error);
    let mut failure = Failure::new(
        FailureKind::Api,
        fields.message.unwrap_or_else(|| error.to_string()),
    );
    failure.error_type = fields.kind;
    failure.api_code = fields.code;
    failure.param = fields.param;
    Some(failure)
}

/// The wire format an `event: error` came in: where its error object sits differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorEventFormat {
    /// Chat completions: `{"error": ..}` (any non-null value), or an error object itself (it
    /// has a `message`, and its `type` is the kind of error); any other object is quoted whole.
    Chat,
    /// Responses (and legacy completions): `{"error": {..}}` or `{"error": "text"}`; otherwise
    /// the event object itself is the error object, its `type` naming the event (`error`)
    /// rather than the kind of error. OpenAI sends `{"type":"error","code","message","param"}`.
    Responses,
}

/// An `event: error` payload: an error object as `format` nests it, a JSON string, or plain
/// text (the message itself).
pub(crate) fn error_event(data: &str, format: ErrorEventFormat) -> WireError {
    match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(mut object)) => {
            let nested = object.get("error").filter(|error| match format {
                ErrorEventFormat::Chat => !error.is_null(),
                ErrorEventFormat::Responses => error.is_object() || error.is_string(),
            });
            if let Some(error) = nested {
                return provider_error(error);
            }
            match format {
                ErrorEventFormat::Chat if !object.contains_key("message") => plain_error(data),
                ErrorEventFormat::Chat => provider_error(&Value::Object(object)),
                ErrorEventFormat::Responses => {
                    object.remove("type");
                    provider_error(&Value::Object(object))
                }
            }
        }
        Ok(value @ Value::String(_)) => provider_error(&value),
        _ => plain_error(data),
    }
}

/// An error event's data taken as text; empty data says so (`NO_DETAILS`).
fn plain_error(data: &str) -> WireError {
    let message = if data.is_empty() { NO_DETAILS } else { data };
    WireError::Provider {
        message: message.to_owned(),
        kind: None,
        code: None,
        param: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_keeps_its_fields_and_reads_an_integer_code_as_text() {
        let failure = error_from_json(
            r#"{"error":{"message":"too long","type":"invalid_request_error","param":"messages","code":4001}}"#,
        )
        .unwrap();
        assert_eq!(failure.kind, FailureKind::Api);
        assert_eq!(failure.message, "too long");
        assert_eq!(failure.error_type.as_deref(), Some("invalid_request_error"));
        assert_eq!(failure.param.as_deref(), Some("messages"));
        assert_eq!(failure.api_code.as_deref(), Some("4001"));
        assert_eq!(
            error_from_json(r#"{"error":"plain"}"#).unwrap().message,
            "plain"
        );
        assert!(error_from_json("not json").is_none());
        assert!(error_from_json(r#"{"detail":"x"}"#).is_none());
    }

    #[test]
    fn empty_strings_are_absent_in_a_body_and_in_a_stream_alike() {
        let error = r#"{"message":"m","type":"","param":"","code":""}"#;
        let failure = error_from_json(&format!(r#"{{"error":{error}}}"#)).unwrap();
        assert_eq!(
            (failure.error_type, failure.param, failure.api_code),
            (None, None, None)
        );
        let value: Value = serde_json::from_str(error).unwrap();
        assert_eq!(
            provider_error(&value),
            WireError::Provider {
                message: "m".into(),
                kind: None,
                code: None,
                param: None
            }
        );
    }

    #[test]
    fn without_a_message_a_body_shows_its_error_value_and_a_stream_says_so() {
        let failure = error_from_json(r#"{"error":{"detail":"x","message":""}}"#).unwrap();
        assert_eq!(failure.message, r#"{"detail":"x","message":""}"#);
        let value: Value = serde_json::from_str(r#"{"detail":"x"}"#).unwrap();
        assert!(
            matches!(provider_error(&value), WireError::Provider { message, .. } if message == NO_MESSAGE)
        );
    }
}
