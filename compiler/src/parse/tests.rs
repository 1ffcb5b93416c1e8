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
