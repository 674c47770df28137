//! Tests of the incremental JSON parser (`partial_json.rs`).

use super::*;
use serde_json::{json, Value};

const DOCS: &[&str] = &[
    r#"{"a":1,"b":[true,false,null],"c":{"d":"e\"f\\g\/h\b\f\n\r\t"},"n":-12.5e+3}"#,
    r#"[1,[2,[3,[]]],{},{"x":{"y":{"z":"deep"}}},"tail"]"#,
    r#"{"emoji":"a\ud83d\ude00b","bmp":"\u00e9\u4e2d","raw":"é中😀"}"#,
    "  {\n  \"spaced\" : [ 1 , 2 ] ,\t\"k\" : \"v\" }  ",
    r#""just a string""#,
    "12345",
    "0",
    "-0.5E-7",
    "true",
    "null",
    r#"[{"id":1,"tags":["a","b"],"score":0.25},{"id":2,"tags":[],"score":10}]"#,
];

/// Splits `text` into pieces at char boundaries, cut at `cuts` (byte offsets).
fn pieces<'a>(text: &'a str, cuts: &[usize]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut last = 0;
    for &cut in cuts {
        if cut > last && cut < text.len() && text.is_char_boundary(cut) {
            out.push(&text[last..cut]);
            last = cut;
        }
    }
    out.push(&text[last..]);
    out
}

fn chars(text: &str) -> Vec<&str> {
    text.char_indices()
        .map(|(i, c)| &text[i..i + c.len_utf8()])
        .collect()
}

/// Applies a patch list (the JSON array text) to `root`, as lib/structured.js does.
fn apply(root: &mut Option<Value>, patches: &str) -> Result<(), String> {
    let patches: Vec<Value> = serde_json::from_str(&format!("[{patches}]")).unwrap();
    for patch in patches {
        let op = patch[0].as_u64().unwrap();
        if op == 2 {
            return Err(patch[2].as_str().unwrap().to_owned());
        }
        let path = patch[1].as_array().unwrap();
        let value = patch[2].clone();
        if path.is_empty() {
            match op {
                0 => *root = Some(value),
                _ => {
                    let s = root.as_mut().unwrap().as_str().unwrap().to_owned();
                    *root = Some(Value::String(s + value.as_str().unwrap()));
                }
            }
            continue;
        }
        let mut node = root.as_mut().unwrap();
        for seg in &path[..path.len() - 1] {
            node = match seg {
                Value::String(k) => node.get_mut(k.as_str()).unwrap(),
                _ => node.get_mut(seg.as_u64().unwrap() as usize).unwrap(),
            };
        }
        let last = path.last().unwrap();
        let slot: &mut Value = match (node, last) {
            (Value::Object(map), Value::String(k)) => map.entry(k.clone()).or_insert(Value::Null),
            (Value::Array(items), seg) => {
                let at = seg.as_u64().unwrap() as usize;
                if at == items.len() {
                    items.push(Value::Null);
                }
                &mut items[at]
            }
            _ => panic!("bad path {path:?}"),
        };
        match op {
            0 => *slot = value,
            _ => {
                let s = slot.as_str().unwrap().to_owned();
                *slot = Value::String(s + value.as_str().unwrap());
            }
        }
    }
    Ok(())
}

/// Feeds the pieces; after each one the patches rebuild exactly the snapshot. Returns the
/// snapshots after each piece and the final value.
fn run(parts: &[&str]) -> (Vec<Option<Value>>, Result<Value, JsonError>) {
    let mut parser = PartialJson::recording();
    let mut rebuilt = None;
    let mut snaps = Vec::new();
    for part in parts {
        parser.feed(part);
        let mut patches = String::new();
        parser.take_patches(&mut patches);
        if parser.error().is_none() {
            apply(&mut rebuilt, &patches).unwrap();
            let snap = parser.snapshot().map(|v| v.to_serde());
            assert_eq!(rebuilt, snap, "patches after {part:?}: {patches}");
            snaps.push(snap);
        }
    }
    let end = parser.finish().map(|v| v.to_serde());
    (snaps, end)
}

#[test]
fn every_cut_of_every_document_gives_serde_jsons_value() {
    for doc in DOCS {
        let expected: Value = serde_json::from_str(doc).unwrap();
        for cut in 0..=doc.len() {
            let (_, end) = run(&pieces(doc, &[cut]));
            assert_eq!(end.as_ref(), Ok(&expected), "{doc} cut at {cut}");
        }
        for (a, b) in [(1, 5), (3, 4), (7, 19), (2, 30)] {
            let (_, end) = run(&pieces(doc, &[a, b]));
            assert_eq!(end.as_ref(), Ok(&expected), "{doc} cut at {a},{b}");
        }
    }
}

#[test]
fn one_byte_pieces() {
    for doc in DOCS {
        let expected: Value = serde_json::from_str(doc).unwrap();
        let (snaps, end) = run(&chars(doc));
        assert_eq!(end.unwrap(), expected, "{doc}");
        // Snapshots only grow towards the end: the last one of a container document is whole.
        if doc.trim_start().starts_with(['{', '[']) {
            assert_eq!(snaps.last().unwrap().as_ref(), Some(&expected), "{doc}");
        }
    }
}

/// The snapshot after each prefix of `doc` fed one char at a time.
fn prefix_snapshots(doc: &str) -> Vec<(String, Option<Value>)> {
    let mut parser = PartialJson::new();
    let mut out = Vec::new();
    let mut seen = String::new();
    for c in chars(doc) {
        parser.feed(c);
        seen.push_str(c);
        out.push((seen.clone(), parser.snapshot().map(|v| v.to_serde())));
    }
    out
}

fn snapshot_of(prefix: &str) -> Option<Value> {
    let mut parser = PartialJson::new();
    parser.feed(prefix);
    assert!(parser.error().is_none(), "{prefix}: {:?}", parser.error());
    parser.snapshot().map(|v| v.to_serde())
}

#[test]
fn unfinished_strings_show_their_prefix() {
    assert_eq!(snapshot_of(r#"{"a":""#), Some(json!({"a": ""})));
    assert_eq!(snapshot_of(r#"{"a":"hel"#), Some(json!({"a": "hel"})));
    assert_eq!(snapshot_of(r#"["x","y"#), Some(json!(["x", "y"])));
    assert_eq!(snapshot_of(r#""root pre"#), Some(json!("root pre")));
    // Escapes decoded; a cut escape shows nothing of itself.
    assert_eq!(snapshot_of(r#"{"a":"x\n"#), Some(json!({"a": "x\n"})));
    assert_eq!(snapshot_of(r#"{"a":"x\"#), Some(json!({"a": "x"})));
    for cut in [r#"{"a":"x\u"#, r#"{"a":"x\u00"#, r#"{"a":"x\u00e"#] {
        assert_eq!(snapshot_of(cut), Some(json!({"a": "x"})), "{cut}");
    }
    assert_eq!(snapshot_of(r#"{"a":"x\u00e9"#), Some(json!({"a": "xé"})));
}

#[test]
fn a_surrogate_pair_cut_anywhere_shows_nothing_until_whole() {
    let doc = r#""a\ud83d\ude00b""#;
    for (prefix, snap) in prefix_snapshots(doc) {
        let expected = if prefix.len() == 1 {
            json!("")
        } else if prefix.len() < 14 {
            json!("a")
        } else {
            json!("a😀")
        };
        let expected = match prefix.len() {
            15.. => json!("a😀b"),
            _ => expected,
        };
        assert_eq!(snap, Some(expected), "{prefix}");
    }
}

#[test]
fn numbers_and_literals_appear_only_once_complete() {
    assert_eq!(snapshot_of(r#"{"n":12"#), Some(json!({})));
    assert_eq!(snapshot_of(r#"{"n":12,"#), Some(json!({"n": 12})));
    assert_eq!(snapshot_of(r#"{"n":12}"#), Some(json!({"n": 12})));
    assert_eq!(snapshot_of(r#"[1.5"#), Some(json!([])));
    assert_eq!(snapshot_of(r#"[1.5 "#), Some(json!([1.5])));
    assert_eq!(snapshot_of(r#"[tru"#), Some(json!([])));
    assert_eq!(snapshot_of(r#"[true"#), Some(json!([true])));
    assert_eq!(snapshot_of(r#"[fals"#), Some(json!([])));
    assert_eq!(snapshot_of(r#"[null"#), Some(json!([null])));
    assert_eq!(snapshot_of("42"), None);
    // A number ending the input completes at the end.
    let mut parser = PartialJson::new();
    parser.feed("4");
    parser.feed("2");
    assert_eq!(parser.complete_value(), Some(JsonValue::Number(42.into())));
    assert_eq!(parser.finish().unwrap().to_serde(), json!(42));
}

#[test]
fn keys_appear_only_once_complete_and_with_a_value() {
    assert_eq!(snapshot_of(r#"{"ke"#), Some(json!({})));
    assert_eq!(snapshot_of(r#"{"key""#), Some(json!({})));
    assert_eq!(snapshot_of(r#"{"key":"#), Some(json!({})));
    assert_eq!(snapshot_of(r#"{"key":{"#), Some(json!({"key": {}})));
    assert_eq!(snapshot_of(r#"{"key":["#), Some(json!({"key": []})));
    assert_eq!(snapshot_of(r#"{"a":1,"b"#), Some(json!({"a": 1})));
}

#[test]
fn members_and_items_keep_their_order() {
    let mut parser = PartialJson::new();
    parser.feed(r#"{"z":1,"a":[3,2,1],"m":"#);
    let snap = parser.snapshot().unwrap();
    assert_eq!(snap.to_json(), r#"{"z":1,"a":[3,2,1]}"#);
}

#[test]
fn nested_containers() {
    let doc = r#"{"a":[{"b":[[1,2],[3]]},{"c":{"d":[]}}]}"#;
    let snaps = prefix_snapshots(doc);
    let at = |p: &str| snaps.iter().find(|(s, _)| s == p).unwrap().1.clone();
    assert_eq!(at(r#"{"a":[{"b":[[1"#), Some(json!({"a": [{"b": [[]]}]})));
    assert_eq!(at(r#"{"a":[{"b":[[1,"#), Some(json!({"a": [{"b": [[1]]}]})));
    assert_eq!(
        at(r#"{"a":[{"b":[[1,2],[3]]},{"c":{"#),
        Some(json!({"a": [{"b": [[1, 2], [3]]}, {"c": {}}]}))
    );
}

fn error_of(parts: &[&str]) -> JsonError {
    let mut parser = PartialJson::new();
    for part in parts {
        parser.feed(part);
    }
    parser.finish().unwrap_err()
}

#[test]
fn non_json_is_an_error_with_position_and_reason() {
    let e = error_of(&["Hello"]);
    assert_eq!((e.position, e.reason), (0, "expected a JSON value"));
    let e = error_of(&[r#"{"a":1"#, r#" x"#]);
    assert_eq!(e.position, 7);
    assert_eq!(error_of(&["[1,]"]).position, 3);
    assert_eq!(error_of(&["{\"a\" 1}"]).reason, "expected ':' after a key");
    assert_eq!(error_of(&["[01]"]).reason, "invalid number");
    assert_eq!(error_of(&["[tx]"]).position, 2);
    assert_eq!(
        error_of(&["{} {}"]).reason,
        "unexpected text after the JSON value"
    );
    assert_eq!(
        error_of(&["\"a\u{1}\""]).reason,
        "control character in a string"
    );
    assert_eq!(error_of(&[r#""\q""#]).reason, "invalid escape in a string");
    assert_eq!(
        error_of(&[r#""\ud83dx""#]).reason,
        "lone high surrogate in a \\u escape"
    );
    assert_eq!(
        error_of(&[r#""\ude00""#]).reason,
        "lone low surrogate in a \\u escape"
    );
    assert_eq!(
        error_of(&[r#"{"a":[1"#]).reason,
        "unexpected end of input (the JSON value is not complete)"
    );
    assert_eq!(error_of(&[""]).reason, "no JSON value (the text is empty)");
    assert_eq!(error_of(&["[1,2]]"]).position, 5);
    // Every invalid document serde_json rejects, we reject too.
    for bad in [
        "[1 2]", "{\"a\":}", "[-]", "[1.]", "[.5]", "{,}", "[\"a\"", "nul", "[1e]",
    ] {
        let mut parser = PartialJson::new();
        parser.feed(bad);
        assert!(parser.finish().is_err(), "{bad}");
        assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
    }
}

#[test]
fn an_error_is_one_patch() {
    let mut parser = PartialJson::recording();
    parser.feed("[1,");
    parser.feed("x");
    let mut patches = String::new();
    parser.take_patches(&mut patches);
    assert_eq!(patches, r#"[0,[],[1]],[2,3,"expected a JSON value"]"#);
    parser.feed("more");
    let mut more = String::new();
    parser.take_patches(&mut more);
    assert_eq!(more, "");
}

#[test]
fn appends_coalesce_until_taken() {
    let mut parser = PartialJson::recording();
    parser.feed(r#"{"k":"a"#);
    let mut first = String::new();
    parser.take_patches(&mut first);
    for c in chars(r#"bc","n":[1,"#) {
        parser.feed(c);
    }
    let mut patches = String::new();
    parser.take_patches(&mut patches);
    assert_eq!(first, r#"[0,[],{"k":"a"}]"#);
    assert_eq!(patches, r#"[1,["k"],"bc"],[0,["n"],[1]]"#);
}

#[test]
fn a_container_opened_since_the_last_take_goes_out_whole() {
    let mut parser = PartialJson::recording();
    parser.feed(r#"{"items":[{"id":1,"tags":["a"]},{"id":2,"na"#);
    let mut first = String::new();
    parser.take_patches(&mut first);
    assert_eq!(
        first,
        r#"[0,[],{"items":[{"id":1,"tags":["a"]},{"id":2}]}]"#
    );
    parser.feed(r#"me":"x"},{"id":3,"tags":[]},{"#);
    let mut second = String::new();
    parser.take_patches(&mut second);
    // The open item continues as patches; the items opened and closed since go whole.
    assert_eq!(
        second,
        r#"[0,["items",1,"name"],""],[1,["items",1,"name"],"x"],[0,["items",2],{"id":3,"tags":[]}],[0,["items",3],{}]"#
    );
}

#[test]
fn recording_turned_on_late_starts_with_the_whole_snapshot() {
    let mut parser = PartialJson::recording();
    parser.feed(r#"{"a":[1,"#);
    parser.set_record(false);
    parser.feed(r#"2,"s"#);
    let mut stale = String::new();
    parser.take_patches(&mut stale);
    parser.set_record(true);
    parser.feed(r#"tr"]}"#);
    let mut patches = String::new();
    parser.take_patches(&mut patches);
    let mut rebuilt = None;
    apply(&mut rebuilt, &stale).unwrap();
    apply(&mut rebuilt, &patches).unwrap();
    assert_eq!(rebuilt, Some(json!({"a": [1, 2, "str"]})));
}

#[test]
fn a_large_document_in_small_pieces_is_linear_work() {
    // Not a timing test: the bytes copied into patches stay proportional to the input.
    let items: Vec<Value> = (0..2000)
        .map(|i| json!({"id": i, "text": "lorem ipsum dolor sit amet ".repeat(3)}))
        .collect();
    let doc = serde_json::to_string(&json!({ "items": items })).unwrap();
    let mut parser = PartialJson::recording();
    let mut total = 0;
    let mut at = 0;
    while at < doc.len() {
        let end = (at + 8).min(doc.len());
        parser.feed(&doc[at..end]);
        let mut patches = String::new();
        parser.take_patches(&mut patches);
        total += patches.len();
        at = end;
    }
    assert_eq!(
        parser.finish().unwrap().to_serde(),
        serde_json::from_str::<Value>(&doc).unwrap()
    );
    assert!(
        total < doc.len() * 6,
        "{total} bytes of patches for {}",
        doc.len()
    );
}

#[test]
fn floats_keep_every_digit() {
    // The f64 that JSON.parse makes from the same text (serde_json's `float_roundtrip`).
    let doc = r#"[90.28571428571429,0.1,1e-7,12.345678901234567,-2.718281828459045]"#;
    let mut parser = PartialJson::recording();
    parser.feed(doc);
    let value = parser.finish().unwrap();
    assert_eq!(
        value.to_json(),
        "[90.28571428571429,0.1,1e-7,12.345678901234567,-2.718281828459045]"
    );
}
