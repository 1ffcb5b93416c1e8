use super::parse;
use crate::ast::*;
use crate::source::Source;

fn sink_filter(filter: &str) -> Expr {
    let text = format!("sink s {{\n  where {filter}\n  path \"p\"\n}}\n");
    let ast = parse(&Source::new("t.pipe", text)).expect("parses");
    let Declaration::Sink(sink) = &ast.declarations[0] else {
        panic!("not a sink");
    };
    sink.statements
        .iter()
        .find_map(|s| match &s.node {
            SinkStmt::Where(e) => Some(e.clone()),
            _ => None,
        })
        .expect("has a filter")
}

/// A compact rendering of an expression tree, to assert precedence.
fn shape(expr: &Expr) -> String {
    match &expr.node {
        ExprKind::Literal(Literal::String(s)) => format!("{s:?}"),
        ExprKind::Literal(l) => format!("{l:?}"),
        ExprKind::Column(n) => n.text.clone(),
        ExprKind::Call { function, args } => {
            let args: Vec<_> = args.iter().map(shape).collect();
            format!("{}({})", function.text, args.join(", "))
        }
        ExprKind::Not(e) => format!("(not {})", shape(e)),
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", shape(lhs), op.node.symbol(), shape(rhs))
        }
        ExprKind::IsNull { expr, negated } => {
            format!(
                "({} is {}null)",
                shape(expr),
                if *negated { "not " } else { "" }
            )
        }
        ExprKind::InList {
            expr,
            list,
            negated,
        } => format!(
            "({} {}in {})",
            shape(expr),
            if *negated { "not " } else { "" },
            list.len()
        ),
    }
}

#[test]
fn precedence_is_or_and_not_comparison_postfix() {
    let expr = sink_filter("a == 1 or not b == 2 and c is not null");
    assert_eq!(
        shape(&expr),
        "((a == Int(1)) or ((not (b == Int(2))) and (c is not null)))"
    );
    let expr = sink_filter("(a or b) and x not in [\"p\", \"q\"]");
    assert_eq!(shape(&expr), "((a or b) and (x not in 2))");
    let expr = sink_filter("starts_with(lower(Host), \"user\")");
    assert_eq!(shape(&expr), "starts_with(lower(Host), \"user\")");
}

#[test]
fn spans_cover_the_written_text() {
    let text = "sink s {\n  where Host == \"a\"\n}\n";
    let ast = parse(&Source::new("t.pipe", text)).unwrap();
    let Declaration::Sink(sink) = &ast.declarations[0] else {
        panic!()
    };
    let SinkStmt::Where(expr) = &sink.statements[0].node else {
        panic!()
    };
    assert_eq!(&text[expr.span.start..expr.span.end], "Host == \"a\"");
}

#[test]
fn strings_unescape_and_remember_escaped_dollars() {
    let text = r#"endpoint GET "/" { respond 200 "a\n\"b\"\t\u{e9} \${X}" }"#;
    let ast = parse(&Source::new("t.pipe", text)).unwrap();
    let Declaration::Endpoint(endpoint) = &ast.declarations[0] else {
        panic!()
    };
    let EndpointStmt::Respond {
        body: Some(body), ..
    } = &endpoint.statements[0].node
    else {
        panic!()
    };
    assert_eq!(body.value, "a\n\"b\"\té ${X}");
    assert_eq!(body.escaped_dollars, vec!["a\n\"b\"\té ".len()]);
}

#[test]
fn durations_keep_their_unit_and_rows_are_counts() {
    let text = "sink s { trigger every 250ms or 5000 rows }";
    let ast = parse(&Source::new("t.pipe", text)).unwrap();
    let Declaration::Sink(sink) = &ast.declarations[0] else {
        panic!()
    };
    let SinkStmt::Trigger(TriggerSpec::Every(bounds)) = &sink.statements[0].node else {
        panic!()
    };
    assert_eq!(
        bounds[0].node,
        TriggerBound::Duration(Duration {
            amount: 250,
            unit: DurationUnit::Millis
        })
    );
    assert_eq!(bounds[1].node, TriggerBound::Rows(5000));
}

#[test]
fn keywords_are_names_where_a_name_is_expected() {
    // `timestamp`, `from` and `key` are keywords elsewhere, fields here.
    let text = "schema s {\n  timestamp: string\n  from: int\n  key: bool?\n}";
    let ast = parse(&Source::new("t.pipe", text)).unwrap();
    let Declaration::Schema(schema) = &ast.declarations[0] else {
        panic!()
    };
    let names: Vec<_> = schema.fields.iter().map(|f| f.name.text.as_str()).collect();
    assert_eq!(names, ["timestamp", "from", "key"]);
}

#[test]
fn a_syntax_error_names_what_was_expected_in_words() {
    let error = parse(&Source::new("t.pipe", "topic events {\n  schema\n}\n")).unwrap_err();
    let message = &error.0[0].message;
    assert_eq!(message, "expected a name, found `}`");
}

#[test]
fn arithmetic_binds_tighter_than_comparisons_and_lists() {
    assert_eq!(
        shape(&sink_filter("price * qty > 100")),
        "((price * qty) > Int(100))"
    );
    assert_eq!(
        shape(&sink_filter("a + b * c - d / e % f == 1")),
        "(((a + (b * c)) - ((d / e) % f)) == Int(1))"
    );
    assert_eq!(
        shape(&sink_filter("(a + b) * c in (1, 2)")),
        "(((a + b) * c) in 2)"
    );
    assert_eq!(
        shape(&sink_filter("a - -1 >= 0")),
        "((a - Int(-1)) >= Int(0))"
    );
    assert_eq!(
        shape(&sink_filter("kind not in (\"a\", \"b\") or kind in []")),
        "((kind not in 2) or (kind in 0))"
    );
}

#[test]
fn schemas_and_sinks_take_their_new_statements() {
    let text = "schema s {\n  extra fields reject\n  extra: string\n}\n\
                sink k {\n  metadata timestamp as kafka_time\n  path \"p\"\n}\n";
    let ast = parse(&Source::new("t.pipe", text.to_string())).expect("parses");
    let Declaration::Schema(schema) = &ast.declarations[0] else {
        panic!("not a schema");
    };
    assert_eq!(schema.extra_fields[0].node, ExtraFields::Reject);
    assert_eq!(
        schema.fields[0].name.text, "extra",
        "a field may be named `extra`"
    );
    let Declaration::Sink(sink) = &ast.declarations[1] else {
        panic!("not a sink");
    };
    assert!(matches!(
        &sink.statements[0].node,
        SinkStmt::Metadata { column, alias } if column.text == "timestamp" && alias.text == "kafka_time"
    ));
}

fn test_block(body: &str) -> TestDecl {
    let text = format!("test t {{\n{body}\n}}\n");
    let ast = parse(&Source::new("t.pipe", text)).expect("parses");
    let Declaration::Test(test) = ast.declarations.into_iter().next().unwrap() else {
        panic!("not a test");
    };
    test
}

#[test]
fn a_test_block_takes_requests_messages_and_expectations() {
    let test = test_block(
        r#"  request GET "/purchase_a_sword" {
    header "Host" = "h"
    query  "order" = "o1"
    bearer "tok"
    body   json { "sku": "sword", "n": [1, -2.5, true, null], "o": {} }
    expect 200 contains "Sword"
  }
  request GET "/join_a_guild"
  message events key "c1" "{ not json"
  expect sword_purchases { row { a = 1, b = any, c contains "x", `d-e` matches "^y", } }
  expect default.t contains { row { } row { a = null } }
  expect t empty"#,
    );
    assert_eq!(test.name.text, "t");
    let [request, bare, message, exactly, contains, empty] = &test.statements[..] else {
        panic!("six statements: {:?}", test.statements);
    };
    let TestStmt::Request(request) = &request.node else {
        panic!()
    };
    assert_eq!(request.method.text, "GET");
    assert_eq!(request.path.value, "/purchase_a_sword");
    let kinds: Vec<&str> = request
        .statements
        .iter()
        .map(|s| match &s.node {
            RequestStmt::Header { .. } => "header",
            RequestStmt::Query { .. } => "query",
            RequestStmt::Bearer(_) => "bearer",
            RequestStmt::Body(Payload::Json(_)) => "body json",
            RequestStmt::Body(Payload::Text(_)) => "body text",
            RequestStmt::Expect { .. } => "expect",
        })
        .collect();
    assert_eq!(kinds, ["header", "query", "bearer", "body json", "expect"]);
    let RequestStmt::Body(Payload::Json(json)) = &request.statements[3].node else {
        panic!()
    };
    assert_eq!(
        json.node,
        JsonValue::Object(vec![
            ("sku".into(), JsonValue::String("sword".into())),
            (
                "n".into(),
                JsonValue::Array(vec![
                    JsonValue::Int(1),
                    JsonValue::Float(-2.5),
                    JsonValue::Bool(true),
                    JsonValue::Null
                ])
            ),
            ("o".into(), JsonValue::Object(vec![])),
        ])
    );
    assert!(matches!(
        &request.statements[4].node,
        RequestStmt::Expect { status, body: Some(TextPattern::Contains(s)) }
            if status.node == 200 && s.value == "Sword"
    ));
    let TestStmt::Request(bare) = &bare.node else {
        panic!()
    };
    assert!(bare.statements.is_empty(), "the block is optional");
    let TestStmt::Message(message) = &message.node else {
        panic!()
    };
    assert_eq!(message.topic.text, "events");
    assert_eq!(message.key.as_ref().unwrap().value, "c1");
    assert!(matches!(&message.payload, Payload::Text(t) if t.value == "{ not json"));

    let TestStmt::Expect(exactly) = &exactly.node else {
        panic!()
    };
    assert_eq!(exactly.mode, ExpectRows::Exactly);
    assert_eq!(exactly.name.text, "sword_purchases");
    let cells = &exactly.rows[0].cells;
    assert_eq!(cells.len(), 4, "a trailing comma is allowed");
    assert!(matches!(&cells[0].matcher, CellMatcher::Equals(l) if l.node == Literal::Int(1)));
    assert_eq!(cells[1].matcher, CellMatcher::Any);
    assert!(matches!(&cells[2].matcher, CellMatcher::Contains(s) if s.value == "x"));
    assert_eq!(cells[3].column.text, "d-e");
    assert!(matches!(&cells[3].matcher, CellMatcher::Matches(s) if s.value == "^y"));

    let TestStmt::Expect(contains) = &contains.node else {
        panic!()
    };
    assert_eq!(contains.mode, ExpectRows::Contains);
    assert_eq!(contains.database.as_ref().unwrap().text, "default");
    assert_eq!(contains.rows.len(), 2);
    assert!(contains.rows[0].cells.is_empty());
    let TestStmt::Expect(empty) = &empty.node else {
        panic!()
    };
    assert_eq!(empty.mode, ExpectRows::Empty);
    assert!(empty.rows.is_empty());
}

#[test]
fn test_spans_point_at_what_each_check_came_from() {
    let text = "test t {\n  request GET \"/x\" {\n    expect 200\n  }\n  expect t contains {\n    row { a = 1 }\n  }\n}\n";
    let ast = parse(&Source::new("t.pipe", text)).unwrap();
    let Declaration::Test(test) = &ast.declarations[0] else {
        panic!()
    };
    let slice = |span: crate::source::Span| &text[span.start..span.end];
    let TestStmt::Request(request) = &test.statements[0].node else {
        panic!()
    };
    assert_eq!(slice(request.head), "request GET \"/x\"");
    assert_eq!(slice(request.statements[0].span), "expect 200");
    let TestStmt::Expect(expect) = &test.statements[1].node else {
        panic!()
    };
    assert_eq!(slice(expect.head), "expect t contains");
    assert_eq!(slice(expect.rows[0].span), "row { a = 1 }");
    assert_eq!(slice(expect.rows[0].cells[0].span), "a = 1");
}

#[test]
fn test_keywords_are_still_names() {
    // `row`, `any`, `contains`, `test` and the other new keywords name
    // fields, topics and columns as before.
    let text = "schema s {\n  row: int\n  any: string\n  contains: string\n  test: bool\n  expect: int\n  empty: int\n}\n\
                topic message { schema s }\n\
                sink k {\n  from message\n  where row == 1 and contains(any, \"x\") and test\n  path \"p\"\n}\n\
                test test { message message json {} expect k { row { row = 1, any = any, contains contains \"x\" } } }\n";
    let ast = parse(&Source::new("t.pipe", text)).expect("parses");
    let Declaration::Schema(schema) = &ast.declarations[0] else {
        panic!()
    };
    let names: Vec<_> = schema.fields.iter().map(|f| f.name.text.as_str()).collect();
    assert_eq!(names, ["row", "any", "contains", "test", "expect", "empty"]);
    let Declaration::Test(test) = &ast.declarations[3] else {
        panic!()
    };
    let TestStmt::Expect(expect) = &test.statements[1].node else {
        panic!()
    };
    let columns: Vec<_> = expect.rows[0]
        .cells
        .iter()
        .map(|c| c.column.text.as_str())
        .collect();
    assert_eq!(columns, ["row", "any", "contains"]);
}

#[test]
fn test_syntax_errors_name_what_was_expected() {
    let error = |body: &str| {
        let text = format!("test t {{\n{body}\n}}\n");
        parse(&Source::new("t.pipe", text)).unwrap_err().0[0].clone()
    };
    assert_eq!(
        error("expect t row").message,
        "expected `{`, `.`, `contains` or `empty`, found `row`"
    );
    let double = error("expect t { row { a == 1 } }");
    assert_eq!(
        double.message,
        "expected `=`, `contains` or `matches`, found `=`"
    );
    assert!(double.help[0].contains("one `=`"), "{:?}", double.help);
    assert_eq!(
        error("request GET \"/x\" { body }").message,
        "expected `json {...}` or a string in double quotes, found `}`"
    );
    assert_eq!(
        error("frobnicate").message,
        "expected `}`, `request`, `message` or `expect`, found `frobnicate`"
    );
    assert_eq!(
        error("expect t { row { a = 1 b = 2 } }").message,
        "expected `}` or `,`, found `b`"
    );
}

#[test]
fn test_statement_spans_end_at_their_last_token() {
    // An optional last part (a response body, a request's block) is looked
    // for past the line's end; the statement ends before it.
    let text = "test t {\n  request GET \"/x\" {\n    expect 200   # ok\n  }\n  request GET \"/y\"  # bare\n  message e \"m\"\n}\n";
    let ast = parse(&Source::new("t.pipe", text)).unwrap();
    let Declaration::Test(test) = &ast.declarations[0] else {
        panic!()
    };
    let slice = |span: crate::source::Span| &text[span.start..span.end];
    let TestStmt::Request(request) = &test.statements[0].node else {
        panic!()
    };
    assert_eq!(slice(request.statements[0].span), "expect 200");
    assert_eq!(slice(test.statements[1].span), "request GET \"/y\"");
    assert_eq!(slice(test.statements[2].span), "message e \"m\"");
}
