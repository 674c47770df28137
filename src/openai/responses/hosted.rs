//! What the Responses stream says about the tools the provider runs itself (web search, file
//! search, code interpreter, image generation, MCP servers, a container shell): their progress,
//! the citations they give the text, the images they make, and the approvals an MCP server asks
//! for. Each is one event or one output item in, at most one `Delta` out; nothing here keeps
//! state (the calls themselves, whose input streams, live in `ResponsesParser`).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{number, string};
use crate::openai::{Citation, Delta};

/// The last words of the progress events (`response.web_search_call.searching`, ...).
const STATUSES: &[&str] = &[
    "in_progress",
    "searching",
    "interpreting",
    "generating",
    "completed",
    "failed",
];

/// `response.<item type>.<status>` as `(tool, status)`: the tool is the item type less
/// `_call`. Any item type ending in `_call` counts (and `mcp_list_tools`), so a hosted tool
/// added later reports its progress without a change here.
pub(super) fn status_of(kind: &str) -> Option<(&str, &str)> {
    let (tool, status) = kind.strip_prefix("response.")?.split_once('.')?;
    if !STATUSES.contains(&status) {
        return None;
    }
    match tool.strip_suffix("_call") {
        Some(tool) if !tool.is_empty() => Some((tool, status)),
        None if tool == "mcp_list_tools" => Some((tool, status)),
        _ => None,
    }
}

/// A progress event's `ToolStatus`.
pub(super) fn tool_status(id: &str, tool: &str, status: &str) -> Delta {
    Delta::ToolStatus {
        choice: 0,
        id: id.to_owned(),
        tool: tool.to_owned(),
        status: status.to_owned(),
    }
}

#[derive(Deserialize)]
struct Annotation<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
    #[serde(borrow)]
    url: Option<&'a RawValue>,
    #[serde(borrow)]
    title: Option<&'a RawValue>,
    #[serde(borrow)]
    file_id: Option<&'a RawValue>,
    #[serde(borrow)]
    filename: Option<&'a RawValue>,
    #[serde(borrow)]
    container_id: Option<&'a RawValue>,
    #[serde(borrow)]
    start_index: Option<&'a RawValue>,
    #[serde(borrow)]
    end_index: Option<&'a RawValue>,
    #[serde(borrow)]
    index: Option<&'a RawValue>,
}

/// `response.output_text.annotation.added`: its `annotation` as a `Citation` (none when the
/// annotation is not an object with a type).
pub(super) fn citation(raw: Option<&RawValue>) -> Option<Delta> {
    let raw = raw.filter(|raw| raw.get().starts_with('{'))?;
    let annotation: Annotation = serde_json::from_str(raw.get()).ok()?;
    let kind = string(annotation.kind).filter(|k| !k.is_empty())?;
    let owned = |raw| string(raw).map(|s| s.into_owned());
    Some(Delta::Citation(Box::new(Citation {
        choice: 0,
        kind: kind.strip_suffix("_citation").unwrap_or(&kind).to_owned(),
        url: owned(annotation.url),
        title: owned(annotation.title),
        file_id: owned(annotation.file_id),
        filename: owned(annotation.filename),
        container_id: owned(annotation.container_id),
        start: number(annotation.start_index),
        end: number(annotation.end_index),
        index: number(annotation.index),
    })))
}

/// The fields of the hosted items read here.
#[derive(Deserialize)]
pub(super) struct HostedItem<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    call_id: Option<&'a RawValue>,
    #[serde(borrow)]
    server_label: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    arguments: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    output_format: Option<&'a RawValue>,
}

impl<'a> HostedItem<'a> {
    pub(super) fn parse(raw: &'a RawValue) -> Option<Self> {
        serde_json::from_str(raw.get()).ok()
    }

    /// A `shell_call_output` item's `call_id`: the shell call it answers.
    pub(super) fn call_id(&self) -> Option<String> {
        string(self.call_id).map(|s| s.into_owned())
    }

    fn id(&self) -> String {
        string(self.id).unwrap_or_default().into_owned()
    }
}

/// An `mcp_approval_request` item as an `Approval`.
pub(super) fn approval(item: &HostedItem<'_>) -> Delta {
    let owned = |raw| string(raw).unwrap_or_default().into_owned();
    Delta::Approval {
        choice: 0,
        id: item.id(),
        server: owned(item.server_label),
        name: owned(item.name),
        arguments: owned(item.arguments),
    }
}

/// `response.image_generation_call.partial_image` as a partial `Image`.
pub(super) fn partial_image(
    id: Option<&RawValue>,
    index: Option<&RawValue>,
    b64: Option<&RawValue>,
) -> Option<Delta> {
    Some(Delta::Image {
        choice: 0,
        id: string(id).unwrap_or_default().into_owned(),
        index: number(index),
        b64: string(b64)?.into_owned(),
        partial: true,
        media_type: None,
    })
}

/// A finished `image_generation_call` item's `result` as the whole `Image` (none without one:
/// a failed generation has no result).
pub(super) fn final_image(item: &HostedItem<'_>) -> Option<Delta> {
    let b64 = string(item.result).filter(|b| !b.is_empty())?;
    let format = string(item.output_format).filter(|f| !f.is_empty());
    Some(Delta::Image {
        choice: 0,
        id: item.id(),
        index: None,
        b64: b64.into_owned(),
        partial: false,
        media_type: Some(format!("image/{}", format.as_deref().unwrap_or("png"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_event_names() {
        for (kind, want) in [
            (
                "response.web_search_call.searching",
                Some(("web_search", "searching")),
            ),
            (
                "response.mcp_list_tools.in_progress",
                Some(("mcp_list_tools", "in_progress")),
            ),
            (
                "response.code_interpreter_call.interpreting",
                Some(("code_interpreter", "interpreting")),
            ),
            ("response.mcp_call.failed", Some(("mcp", "failed"))),
            // A tool that does not exist yet still reports its progress.
            (
                "response.computer_call.in_progress",
                Some(("computer", "in_progress")),
            ),
            ("response.in_progress", None),
            ("response.completed", None),
            ("response.output_item.done", None),
            ("response.mcp_call_arguments.done", None),
            ("response.image_generation_call.partial_image", None),
            ("response._call.completed", None),
            ("response.reasoning_summary_part.done", None),
            ("vendor.web_search_call.completed", None),
        ] {
            assert_eq!(status_of(kind), want, "{kind}");
        }
    }
}
