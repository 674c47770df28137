//! Delta and error constructors shared by the wire parsers' tests (choice 0 tool calls,
//! usage, provider errors).

use serde_json::value::RawValue;

use super::{Delta, RawJson, ToolKind, WireError};

/// A tool call fragment of choice 0.
pub fn tool(index: u32, id: Option<&str>, name: Option<&str>, arguments: &str) -> Delta {
    Delta::ToolCallDelta {
        choice: 0,
        index,
        id: id.map(str::to_owned),
        name: name.map(str::to_owned),
        arguments: arguments.to_owned(),
        kind: ToolKind::Function,
        partial: None,
        hosted: false,
    }
}

/// The whole call of choice 0, once its arguments are complete.
pub fn whole(index: u32, id: &str, name: &str, arguments: &str) -> Delta {
    Delta::ToolCall {
        choice: 0,
        index,
        id: id.to_owned(),
        name: name.to_owned(),
        arguments: arguments.to_owned(),
        kind: ToolKind::Function,
        server: None,
        output: None,
        error: None,
        hosted: false,
    }
}

/// The usage delta carrying `json` verbatim.
pub fn usage(json: &str) -> Delta {
    Delta::Usage {
        usage: RawJson(RawValue::from_string(json.to_owned()).unwrap()),
    }
}

/// The error a provider reported, with its optional fields.
pub fn provider(
    message: &str,
    kind: Option<&str>,
    code: Option<&str>,
    param: Option<&str>,
) -> WireError {
    WireError::Provider {
        message: message.to_owned(),
        kind: kind.map(str::to_owned),
        code: code.map(str::to_owned),
        param: param.map(str::to_owned),
    }
}
