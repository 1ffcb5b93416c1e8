//! `pipec diff OLD NEW` and `pipec ddl --alter` as scripts use them: exit
//! statuses, the changes on stdout at the new file's lines.

mod common;

use common::{pipec, text};
use std::process::Output;

const EVOLVE: &str = "tests/fixtures/evolve";

/// `pipec diff` over the pair `NAME.old.pipe` → `NAME.new.pipe`, with more
/// arguments after.
fn diff(name: &str, more: &[&str]) -> Output {
    let old = format!("{EVOLVE}/{name}.old.pipe");
    let new = format!("{EVOLVE}/{name}.new.pipe");
    let mut args = vec!["diff", old.as_str(), new.as_str()];
    args.extend(more);
    pipec(&args)
}

#[test]
fn a_breaking_change_exits_1_and_points_at_the_changed_field() {
    let out = diff("type_changed", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("error[E0801]: breaking: field `store_id` changed type from int to string"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("--> {EVOLVE}/type_changed.new.pipe:8:13")),
        "{stdout}"
    );
    assert!(
        stdout.contains("8 |   store_id: string?\n  |             ^^^^^^"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 breaking, 0 needing care, 0 compatible"),
        "{stdout}"
    );
}

#[test]
fn changes_that_need_care_or_are_compatible_exit_0() {
    let out = diff("required_field_added", &[]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("warning[W0810]: needs care: required field `channel`"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "messages already in topic `purchases` without `channel` will be dead letters"
        ),
        "{stdout}"
    );

    let out = diff("sink_added", &[]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("compatible[W0821]: sink `big_purchases` added"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("--> {EVOLVE}/sink_added.new.pipe:32:6")),
        "{stdout}"
    );
}

#[test]
fn the_same_file_has_no_changes() {
    let file = format!("{EVOLVE}/path_moved.old.pipe");
    let out = pipec(&["diff", &file, &file]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).ends_with(": no changes\n"));
}

#[test]
fn json_lists_each_change_with_its_class_and_position() {
    let out = diff("column_renamed", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["breaking"], 1);
    let change = &report["changes"][0];
    assert_eq!(change["class"], "breaking");
    assert_eq!(change["code"], "E0803");
    assert_eq!(change["start"]["line"], 9);
    assert_eq!(
        change["help"],
        "keep reading the old key: `voucher: string? from \"coupon\"`"
    );
}

#[test]
fn a_file_that_does_not_check_exits_1_and_one_missing_exits_2() {
    let out = pipec(&[
        "diff",
        &format!("{EVOLVE}/type_changed.old.pipe"),
        "tests/fixtures/invalid/unknown_schema.pipe",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[E0101]"));
    let out = pipec(&[
        "diff",
        "no/such.pipe",
        &format!("{EVOLVE}/type_changed.new.pipe"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ddl_alter_adds_the_new_columns() {
    let out = pipec(&[
        "ddl",
        &format!("{EVOLVE}/optional_field_added.new.pipe"),
        "--alter",
        &format!("{EVOLVE}/optional_field_added.old.pipe"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "ALTER TABLE shop.purchases ADD COLUMNS (\n  gift_wrap BOOLEAN\n) CASCADE;\n"
    );
    let out = pipec(&[
        "ddl",
        &format!("{EVOLVE}/sink_added.new.pipe"),
        "--alter",
        &format!("{EVOLVE}/sink_added.old.pipe"),
        "--dialect",
        "trino",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "-- No table gains a column: nothing to alter.\n"
    );
}
