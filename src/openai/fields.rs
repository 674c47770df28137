//! How every wire format accumulates the fields of its result.

use std::borrow::Cow;

use serde_json::value::RawValue;

/// Appends to an accumulated field and hands the piece back, owned, for the delta.
pub(super) fn append(slot: &mut Option<String>, text: Cow<'_, str>) -> String {
    slot.get_or_insert_with(String::new).push_str(&text);
    text.into_owned()
}

/// Sets a metadata field from the first chunk (or event object) where it is a non-empty
/// string; a field of another type is skipped.
pub(super) fn fill_str(slot: &mut Option<String>, raw: Option<&RawValue>) {
    if slot.is_none() {
        // A raw value starts at its first byte: a string always starts with a quote.
        let raw = raw.filter(|raw| raw.get().starts_with('"'));
        let value = raw.and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
        *slot = value.filter(|s| !s.is_empty());
    }
}
