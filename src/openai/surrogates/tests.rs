//! Tests of the surrogate joining (`surrogates.rs`) on its own; each wire format's tests show it
//! end to end.

use super::*;

fn read(json: &str) -> Text<'_> {
    from_str::<Text>(json).expect("a JSON string")
}

#[test]
fn the_scan_finds_surrogate_escapes_in_any_case_and_nothing_else() {
    assert!(has_surrogate_escape(r#""\ud83d""#));
    assert!(has_surrogate_escape(r#""\uDE80""#));
    assert!(has_surrogate_escape(r#"{"a":"x\uDbFf"}"#));
    assert!(!has_surrogate_escape(
        r#""\u00e9 \u4e2d \ue000 \ud7ff \n \\ d83d""#
    ));
    assert!(!has_surrogate_escape(r#""\u""#));
    assert!(!has_surrogate_escape("\"🚀\""));
    // An escaped backslash is a false alarm: the lenient reading still gives the literal text.
    assert!(has_surrogate_escape(r#""\\ud83d""#));
    assert_eq!(read(r#""\\ud83d""#), Text::Str(r"\ud83d".into()));
}

#[test]
fn a_text_without_surrogate_escapes_is_borrowed_as_before() {
    assert!(matches!(
        read(r#""plain""#),
        Text::Str(Cow::Borrowed("plain"))
    ));
    assert_eq!(read(r#""a\nb""#), Text::Str("a\nb".into()));
    assert_eq!(read(r#""\ud83d\ude80""#), Text::Str("🚀".into()));
    assert!(from_str::<Text>("12").is_err());
    assert!(from_str::<Text>("\"\\ud83d").is_err());
}

#[test]
fn the_lenient_reading_keeps_json_s_string_grammar() {
    // A raw control character is as wrong as without surrogates.
    assert!(from_str::<Text>("\"\\ud83d\u{1}\"").is_err());
    assert!(from_str::<Text>(r#""\ud83d\q""#).is_err());
    assert!(from_str::<Vec<Text>>(r#"["\ud83d", 3]"#).is_err());
}

#[test]
fn halves_join_across_values_of_one_field_and_only_of_that_field() {
    let mut held = Held::default();
    assert_eq!(held.join(1, read(r#""go \ud83d""#)), "go ");
    assert_eq!(held.join(2, read(r#""other""#)), "other");
    // An empty value (or none) in between does not separate the halves, as in JS.
    assert_eq!(held.join(1, read(r#""""#)), "");
    assert_eq!(held.join(1, read(r#""\ude80!""#)), "🚀!");
    assert!(held.take_all().is_empty());
}

#[test]
fn every_surrogate_that_is_not_completed_is_a_replacement() {
    let mut held = Held::default();
    // A low half with no high one before it.
    assert_eq!(held.join((), read(r#""\ude80x""#)), "\u{FFFD}x");
    // Lone ones in the middle of a value.
    assert_eq!(
        held.join((), read(r#""a\ud83db\ude80c""#)),
        "a\u{FFFD}b\u{FFFD}c"
    );
    // A held high half the next value does not complete.
    assert_eq!(held.join((), read(r#""\ud83d""#)), "");
    assert_eq!(held.join((), read(r#""next""#)), "\u{FFFD}next");
    assert_eq!(held.join((), read(r#""\ud83d""#)), "");
    assert_eq!(held.join((), read(r#""\ud83d""#)), "\u{FFFD}");
    assert_eq!(held.join((), read(r#""\ude80\ud83d""#)), "🚀");
    // The stream ends with one held.
    assert_eq!(held.take_all(), vec![()]);
    assert!(held.take_all().is_empty());
}

#[test]
fn paired_escapes_in_one_value_are_one_character() {
    let mut held = Held::default();
    let text = read(r#""\ud83d\ude80 and \uD83D\uDE80 then \ud83d""#);
    assert_eq!(held.join((), text), "🚀 and 🚀 then ");
    assert_eq!(held.join((), read(r#""\udE80""#)), "🚀");
}
