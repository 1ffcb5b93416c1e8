//! Random and mutated pipeline text through parse, check and render: any
//! input gets diagnostics or a plan, never a panic. Bounded so that it runs
//! in the normal test command.

use pipec_compiler::render::{render, to_json, Style};
use pipec_compiler::{compile, Source};
use proptest::prelude::*;
use std::collections::BTreeMap;

const SEEDS: &[&str] = &[
    include_str!("../../pipelines/game_events.pipe"),
    include_str!("../../tests/fixtures/invalid/many_errors.pipe"),
    include_str!("../../tests/fixtures/invalid/unsatisfiable_filter.pipe"),
    include_str!("../../tests/fixtures/invalid/table_partition_mismatch.pipe"),
    include_str!("../../tests/pipelines/test_blocks.pipe"),
];

/// Pieces of the language, so that random text often gets deep into the parser.
const TOKENS: &[&str] = &[
    "schema",
    "topic",
    "endpoint",
    "sink",
    "table",
    "kafka",
    "dead_letters",
    "pipeline",
    "from",
    "where",
    "into",
    "set",
    "headers",
    "all",
    "body",
    "json",
    "auth",
    "bearer",
    "respond",
    "columns",
    "path",
    "checkpoint",
    "trigger",
    "every",
    "once",
    "or",
    "and",
    "not",
    "in",
    "is",
    "null",
    "rows",
    "partition",
    "by",
    "date",
    "as",
    "compression",
    "snappy",
    "GET",
    "POST",
    "test",
    "request",
    "message",
    "expect",
    "row",
    "any",
    "contains",
    "matches",
    "empty",
    "200",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    ".",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    "?",
    "\"x\"",
    "\"/\"",
    "\"${A:-b}\"",
    "\"${\"",
    "`q q`",
    "10s",
    "-1s",
    "0",
    "42",
    "3.5",
    "true",
    "e",
    "Host",
    "event_type",
    "timestamp",
    "\n",
    " ",
    "#c\n",
    "\\",
    "\"",
    "é",
    "\t",
];

fn exercise(text: &str) {
    let source = Source::new("fuzz.pipe", text);
    let env: BTreeMap<String, String> = BTreeMap::from([("A".into(), "x".into())]);
    let diagnostics = match compile(&source, &env) {
        Ok(checked) => {
            let _ = checked.plan.to_yaml();
            checked.warnings
        }
        Err(diagnostics) => {
            assert!(
                diagnostics.has_errors(),
                "an Err without an error: {diagnostics:?}"
            );
            diagnostics
        }
    };
    for diagnostic in diagnostics.iter() {
        let _ = render(&source, diagnostic, Style::Plain);
        let _ = serde_json::to_string(&to_json(&source, diagnostic)).unwrap();
    }
}

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|t| t.join(" "))
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..20usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(at, t)| Mutation::Insert {
            at,
            text: t.to_string()
        }),
        (any::<usize>(), 1..80usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut text = text.to_string();
    for m in mutations {
        let n = text.len().max(1);
        match m {
            Mutation::Delete { at, len } => {
                let start = floor_boundary(&text, at % n);
                let end = floor_boundary(&text, start + len);
                text.replace_range(start..end, "");
            }
            Mutation::Insert { at, text: t } => {
                let at = floor_boundary(&text, at % n);
                text.insert_str(at, t);
            }
            Mutation::Duplicate { at, len } => {
                let start = floor_boundary(&text, at % n);
                let end = floor_boundary(&text, start + len);
                let copy = text[start..end].to_string();
                text.insert_str(end, &copy);
            }
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        exercise(&text);
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        exercise(&text);
    }

    #[test]
    fn mutated_pipelines_never_panic(
        seed in prop::sample::select(SEEDS),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        exercise(&apply(seed, &mutations));
    }
}

/// The fuzzer's find (`where not event_type == ...`), kept as a fixed case:
/// every filter shape, each under a `not`, gets a plan that serialises.
#[test]
fn every_filter_shape_under_not_serialises() {
    let filter = "not (not price * qty > 100 and not (status in (\"paid\") \
                  or not status is null) and not starts_with(status, \"p\") \
                  and not true)";
    let text = include_str!("../../tests/pipelines/webshop.pipe").replace(
        "price * qty > 100 and status in (\"paid\", \"shipped\")",
        filter,
    );
    assert!(text.contains(filter), "the fixture's filter moved");
    let source = Source::new("webshop.pipe", text);
    let checked = compile(&source, &BTreeMap::new()).expect("the filter checks");
    let yaml = checked.plan.to_yaml();
    assert!(yaml.matches("!not").count() >= 5, "{yaml}");
}
