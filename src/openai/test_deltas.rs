//! Delta constructors shared by the wire parsers' tests (choice 0 tool calls, usage).

use serde_json::value::RawValue;

use super::{Delta, RawJson, ToolKind};

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
    }
}

/// The usage delta carrying `json` verbatim.
pub fn usage(json: &str) -> Delta {
    Delta::Usage {
        usage: RawJson(RawValue::from_string(json.to_owned()).unwrap()),
    }
}
