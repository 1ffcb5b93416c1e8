use crate::plan::{Method, Value};
use crate::test_plan::{
    CellMatch, ExpectTarget, Given, PipelineTest, RowsMode, TableExpectation, TextMatch,
};
use crate::{compile, Diagnostics, Source};
use std::collections::BTreeMap;

/// Two sinks, one with a table in its own database, one without; a JSON
/// endpoint and a GET one.
const PIPELINE: &str = r#"
schema order {
  order_id:  string
  quantity:  int
  price:     float?
  placed_at: timestamp
  region:    string?
}
topic orders { schema order }
endpoint POST "/orders" {
  into orders
  body json
}
endpoint GET "/order" {
  into orders
  set  order_id  = query "id"
  set  quantity  = 1
  set  placed_at = received_time
}
sink all_orders {
  from       orders
  path       "all"
  checkpoint "checkpoints/all"
  partition  by region
}
sink big_orders {
  from       orders
  where      quantity > 10
  path       "big"
  checkpoint "checkpoints/big"
}
table shop.orders { from all_orders }
"#;

fn compile_tests(tests: &str) -> Result<Vec<PipelineTest>, Diagnostics> {
    let source = Source::new("t.pipe", format!("{PIPELINE}\n{tests}"));
    compile(&source, &BTreeMap::<String, String>::new()).map(|checked| checked.plan.tests)
}

fn expectation(tests: &str) -> TableExpectation {
    let tests = compile_tests(tests).unwrap_or_else(|e| panic!("{e:#?}"));
    tests[0].expect[0].clone()
}

fn target_of(name: &str) -> ExpectTarget {
    expectation(&format!("test t {{ expect {name} empty }}")).target
}

fn codes(tests: &str) -> Vec<&'static str> {
    compile_tests(tests)
        .expect_err("has errors")
        .iter()
        .map(|d| d.code.as_str())
        .collect()
}

#[test]
fn a_target_is_a_table_then_a_sink_then_the_dead_letters() {
    let table = |t: ExpectTarget| match t {
        ExpectTarget::Table(r) => r.name,
        other => panic!("not a table: {other:?}"),
    };
    assert_eq!(table(target_of("orders")), "shop.orders");
    assert_eq!(table(target_of("SHOP.Orders")), "shop.orders");
    // A sink with a table is read through its table.
    assert_eq!(table(target_of("all_orders")), "shop.orders");
    let sink = |t: ExpectTarget| match t {
        ExpectTarget::Sink(r) => r.name,
        other => panic!("not a sink: {other:?}"),
    };
    assert_eq!(sink(target_of("big_orders")), "big_orders");
    assert_eq!(sink(target_of("default.big_orders")), "big_orders");
    assert!(matches!(
        target_of("dead_letters"),
        ExpectTarget::DeadLetters
    ));
    assert!(matches!(
        target_of("default.dead_letters"),
        ExpectTarget::DeadLetters
    ));
    // `default.SINK` names only a sink that has no table of its own.
    assert_eq!(
        codes("test t { expect default.all_orders empty }"),
        ["E0702"]
    );
    assert_eq!(codes("test t { expect shop.big_orders empty }"), ["E0702"]);
}

#[test]
fn a_renamed_dead_letter_table_is_found_by_its_name() {
    let tests = "dead_letters { table errors.bad_orders }\n\
                 test t { expect errors.bad_orders empty expect bad_orders empty }";
    let tests = compile_tests(tests).unwrap();
    assert!(tests[0]
        .expect
        .iter()
        .all(|e| matches!(e.target, ExpectTarget::DeadLetters)));
    assert_eq!(
        codes("dead_letters { table errors.bad_orders }\ntest t { expect dead_letters empty }"),
        ["E0702"]
    );
}

#[test]
fn cells_take_the_column_type_and_the_table_spelling() {
    let expect = expectation(
        r#"test t { expect big_orders {
             row { PRICE = 2, quantity = 3, placed_at = "2024-05-01T12:00:00+02:00",
                   order_id contains "o", region = null, timestamp = any }
           } }"#,
    );
    assert_eq!(expect.mode, RowsMode::Exactly);
    let cells: Vec<(&str, &CellMatch)> = expect.rows[0]
        .cells
        .iter()
        .map(|c| (c.column.as_str(), &c.matcher))
        .collect();
    assert_eq!(
        cells,
        [
            ("price", &CellMatch::Equals(Value::Float(2.0))),
            ("quantity", &CellMatch::Equals(Value::Int(3))),
            (
                "placed_at",
                &CellMatch::Equals(Value::Timestamp(1_714_557_600_000_000))
            ),
            ("order_id", &CellMatch::Contains("o".into())),
            ("region", &CellMatch::Equals(Value::Null)),
            ("timestamp", &CellMatch::Any),
        ]
    );
}

#[test]
fn cells_of_the_wrong_type_are_refused() {
    let cell = |row: &str| {
        codes(&format!(
            "test t {{ expect big_orders {{ row {{ {row} }} }} }}"
        ))
    };
    assert_eq!(cell("quantity = 1.5"), ["E0704"]);
    assert_eq!(cell("quantity = null"), ["E0704"], "a required field");
    assert_eq!(cell("quantity contains \"1\""), ["E0704"]);
    assert_eq!(cell("placed_at = \"yesterday\""), ["E0704"]);
    assert_eq!(cell("placed_at = 5"), ["E0704"]);
    assert_eq!(cell("order_id = 5"), ["E0704"]);
    assert_eq!(cell("order_id matches \"(\""), ["E0706"]);
    assert_eq!(cell("order = \"o\""), ["E0703"]);
    assert_eq!(cell("quantity = 1, QUANTITY = 2"), ["E0111"]);
}

#[test]
fn partition_and_dead_letter_columns_can_be_expected() {
    // `region` is the table's partition column, nullable like its field.
    let expect = expectation("test t { expect orders { row { region = null } } }");
    assert_eq!(expect.rows[0].cells[0].column, "region");
    let expect = expectation(
        r#"test t { expect dead_letters { row { sink = "all_orders", kafka_partition = 0, raw_text = null, raw = any } } }"#,
    );
    assert_eq!(
        expect.rows[0].cells[1].matcher,
        CellMatch::Equals(Value::Int(0))
    );
    assert_eq!(
        codes(r#"test t { expect dead_letters { row { raw = "x" } } }"#),
        ["E0704"]
    );
    assert_eq!(
        codes("test t { expect dead_letters { row { reason = null } } }"),
        ["E0704"]
    );
}

#[test]
fn requests_keep_their_headers_in_order_and_bodies_as_compact_json() {
    let tests = compile_tests(
        r#"test t {
             request POST "/orders" {
               header "X-A" = "1"
               bearer "tok"
               header "X-B" = "2"
               query  "q" = "v"
               body json { "order_id": "o1", "quantity": 2, "price": 1.50, "tags": ["a"], "gift": null }
               expect 200 matches "^$"
             }
             request GET "/order"
           }"#,
    )
    .unwrap();
    let Given::Request(request) = &tests[0].given[0] else {
        panic!()
    };
    assert_eq!(request.method, Method::Post);
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        headers,
        [("X-A", "1"), ("Authorization", "Bearer tok"), ("X-B", "2")]
    );
    assert_eq!(request.query, [("q".to_string(), "v".to_string())]);
    assert_eq!(
        request.body.as_deref(),
        Some(r#"{"order_id":"o1","quantity":2,"price":1.5,"tags":["a"],"gift":null}"#)
    );
    let expect = request.expect.as_ref().unwrap();
    assert_eq!(expect.status, 200);
    assert_eq!(expect.body, Some(TextMatch::Matches("^$".into())));
    let Given::Request(bare) = &tests[0].given[1] else {
        panic!()
    };
    assert!(bare.expect.is_none() && bare.body.is_none());
}

#[test]
fn requests_go_to_declared_routes_with_what_they_accept() {
    assert_eq!(
        codes(r#"test t { request GET "/orders" { expect 200 } }"#),
        ["E0701"]
    );
    assert_eq!(
        codes(r#"test t { request GET "/order" { body "x" expect 200 } }"#),
        ["E0705"]
    );
    assert_eq!(
        codes(r#"test t { request GET "/order" { header "a b" = "x" expect 200 } }"#),
        ["E0705"]
    );
    assert_eq!(
        codes(r#"test t { request GET "/order" { expect 99 } }"#),
        ["E0705"]
    );
    assert_eq!(
        codes(r#"test t { request POST "/orders" { body "a" body "b" expect 200 } }"#),
        ["E0111"]
    );
    assert_eq!(codes(r#"test t { request GET "/order" }"#), ["E0707"]);
    assert_eq!(
        codes(r#"test t { message ordrs "x" expect big_orders empty }"#),
        ["E0102"]
    );
    assert_eq!(
        codes("test t { expect big_orders empty }\ntest t { expect big_orders empty }"),
        ["E0110"]
    );
}

#[test]
fn messages_carry_their_key_and_payload() {
    let tests = compile_tests(
        r#"test t { message orders key "k" json { "b": 1, "a": "é\n" } expect big_orders empty }"#,
    )
    .unwrap();
    let Given::Message(message) = &tests[0].given[0] else {
        panic!()
    };
    assert_eq!(message.topic.name, "orders");
    assert_eq!(message.key.as_deref(), Some("k"));
    assert_eq!(message.payload, r#"{"b":1,"a":"é\n"}"#);
}
