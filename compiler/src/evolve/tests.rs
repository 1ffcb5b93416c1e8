use super::*;
use crate::{compile, parse, Source};
use std::collections::BTreeMap;

const BASE: &str = r#"
schema purchase {
  item:  string
  price: int
  note:  string?
}
topic purchases { schema purchase }
endpoint POST "/buy" {
  into purchases
  body json
}
sink buys {
  from       purchases
  where      item != "free"
  path       "buys"
  checkpoint "checkpoints/buys"
  partition  by item
}
table shop.buys { from buys }
"#;

fn plan(text: &str) -> Plan {
    match compile(&Source::new("t.pipe", text), &BTreeMap::new()) {
        Ok(checked) => checked.plan,
        Err(e) => panic!("{e:?}\n{text}"),
    }
}

/// The changes from `BASE` to `BASE` with `from` replaced by `to`, as
/// (class, code, line of the span) triples and the messages.
fn changes(edits: &[(&str, &str)]) -> (Vec<(Class, &'static str, usize)>, Vec<String>) {
    let mut new_text = BASE.to_string();
    for (from, to) in edits {
        assert!(new_text.contains(from), "{from:?}");
        new_text = new_text.replacen(from, to, 1);
    }
    let source = Source::new("new.pipe", new_text.as_str());
    let ast = parse(&source).unwrap();
    let found = diff(&plan(BASE), &plan(&new_text), &ast);
    (
        found
            .iter()
            .map(|c| {
                let line = if c.span == Span::default() {
                    0
                } else {
                    source.position(c.span.start).line
                };
                (c.class, c.code.as_str(), line)
            })
            .collect(),
        found.into_iter().map(|c| c.message).collect(),
    )
}

#[test]
fn the_same_file_has_no_changes() {
    assert_eq!(changes(&[]).0, []);
}

#[test]
fn an_optional_field_is_compatible_and_a_required_one_needs_care() {
    let (found, messages) = changes(&[("note:  string?\n", "note:  string?\n  coupon: string?\n")]);
    assert_eq!(found, [(Class::Compatible, "W0820", 6)]);
    assert!(messages[0].contains("read it as null"), "{messages:?}");
    let (found, messages) = changes(&[("note:  string?\n", "note:  string?\n  coupon: string\n")]);
    assert_eq!(found, [(Class::NeedsCare, "W0810", 6)]);
    assert_eq!(
        messages[0],
        "required field `coupon` added to schema `purchase`: messages already in topic `purchases` without `coupon` will be dead letters"
    );
}

#[test]
fn a_type_change_is_breaking_at_the_field_and_said_once() {
    let (found, messages) = changes(&[("price: int", "price: string")]);
    assert_eq!(found, [(Class::Breaking, "E0801", 4)]);
    assert!(
        messages[0].contains("the files sink `buys` already wrote hold `price` as int"),
        "{messages:?}"
    );
}

#[test]
fn renames_with_and_without_from() {
    let (found, _) = changes(&[("note:  string?", "remark: string?")]);
    assert_eq!(found, [(Class::Breaking, "E0803", 5)]);
    let (found, messages) = changes(&[("note:  string?", "remark: string? from \"note\"")]);
    assert_eq!(found, [(Class::NeedsCare, "W0815", 5)]);
    assert!(
        messages[0].contains("show `remark` as null"),
        "{messages:?}"
    );
    // Not in place and of another type: a removal and an addition.
    let (found, _) = changes(&[("note:  string?", "remark: int?")]);
    assert_eq!(
        found,
        [
            (Class::NeedsCare, "W0812", 2),
            (Class::Compatible, "W0820", 5)
        ]
    );
}

#[test]
fn a_key_change_and_optionality() {
    let (found, _) = changes(&[("item:  string", "item:  string from \"Item\"")]);
    assert_eq!(found, [(Class::NeedsCare, "W0813", 3)]);
    let (found, _) = changes(&[("note:  string?", "note:  string")]);
    assert_eq!(found, [(Class::NeedsCare, "W0814", 5)]);
    let (found, _) = changes(&[("price: int", "price: int?")]);
    assert_eq!(found, [(Class::Compatible, "W0826", 4)]);
}

#[test]
fn sink_settings() {
    let (found, _) = changes(&[("\"free\"", "\"gift\"")]);
    assert_eq!(found, [(Class::Compatible, "W0822", 14)]);
    let (found, _) = changes(&[(
        "partition  by item",
        "partition  by item\n  trigger every 1m\n  compression zstd",
    )]);
    assert_eq!(
        found,
        [
            (Class::Compatible, "W0823", 18),
            (Class::Compatible, "W0824", 19)
        ]
    );
    let (found, _) = changes(&[("partition  by item\n", "")]);
    assert_eq!(found, [(Class::Breaking, "E0802", 12)]);
}

#[test]
fn a_moved_path_starts_over_and_frees_the_layout() {
    let (found, messages) = changes(&[("\"buys\"", "\"buys_v2\""), ("partition  by item\n", "")]);
    assert_eq!(found, [(Class::NeedsCare, "W0811", 15)]);
    assert!(
        messages[0].contains("starts with new events only"),
        "{messages:?}"
    );
    let (found, messages) = changes(&[("\"checkpoints/buys\"", "\"checkpoints/buys2\"")]);
    assert_eq!(found, [(Class::NeedsCare, "W0811", 16)]);
    assert!(messages[0].ends_with("duplicates"), "{messages:?}");
}

#[test]
fn declarations_added_and_removed() {
    let (found, messages) = changes(&[
        ("endpoint POST \"/buy\"", "endpoint POST \"/purchase\""),
        (
            "table shop.buys { from buys }",
            "sink all_buys {\n  from purchases\n  path \"all\"\n  checkpoint \"checkpoints/all\"\n}",
        ),
    ]);
    assert_eq!(
        found,
        [
            (Class::NeedsCare, "W0816", 7),
            (Class::Compatible, "W0821", 8),
            (Class::NeedsCare, "W0816", 12),
            (Class::Compatible, "W0821", 19),
        ]
    );
    assert!(messages
        .iter()
        .any(|m| m == "endpoint `POST /buy` removed: clients that call it get 404"));
}

#[test]
fn a_column_left_out_of_a_sink_needs_care() {
    let (found, _) = changes(&[(
        "partition  by item",
        "partition  by item\n  columns raw_event, timestamp, price",
    )]);
    assert_eq!(
        found,
        [
            (Class::NeedsCare, "W0812", 18),
            (Class::NeedsCare, "W0812", 20)
        ]
    );
}

#[test]
fn diagnostics_lead_with_the_class_and_leave_out_compatible_changes() {
    let (old, text) = (plan(BASE), BASE.replace("price: int", "price: string"));
    let text = text.replace("note:  string?\n", "note:  string?\n  coupon: string?\n");
    let ast = parse(&Source::new("n.pipe", text.as_str())).unwrap();
    let found = diff(&old, &plan(&text), &ast);
    assert_eq!(found.len(), 2);
    let diagnostics = to_diagnostics(&found);
    assert_eq!(diagnostics.len(), 1);
    assert!(diagnostics.has_errors());
    assert!(diagnostics.0[0]
        .message
        .starts_with("breaking: field `price`"));
}

#[test]
fn files_on_disk_compare_by_column() {
    let new = plan(&BASE.replace("price: int", "price: string"));
    let source = Source::new("n.pipe", BASE.replace("price: int", "price: string"));
    let ast = parse(&source).unwrap();
    let sink = new.sink_named("buys").unwrap();
    let column = |name: &str, data_type, nullable| WrittenColumn {
        name: name.into(),
        data_type: Some(data_type),
        nullable,
    };
    use crate::types::DataType::*;
    let written = WrittenLayout {
        columns: vec![
            column("raw_event", String, false),
            column("timestamp", Timestamp, false),
            column("price", Int, false),
            column("note", String, true),
            column("gone", Bool, true),
        ],
        partition_columns: vec!["day".into()],
    };
    let found: Vec<_> = compare_columns(&written, sink, &ast)
        .into_iter()
        .map(|c| (c.code.as_str(), source.position(c.span.start).line))
        .collect();
    assert_eq!(found, [("E0802", 17), ("E0801", 4), ("W0812", 12)]);
    assert!(compare_columns(&WrittenLayout::of_sink(sink), sink, &ast).is_empty());
}
