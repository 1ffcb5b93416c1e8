//! Stage 4 (beside `ddl`): [`Plan`] → the pipeline as a graph, drawn as
//! Mermaid, Graphviz DOT or SVG. Endpoints feed topics, topics feed sinks through
//! their filters, sinks write tables, and every sink's misfits go to the
//! dead-letter table.

use crate::expr::TypedExpr;
use crate::plan::{Plan, Trigger};

mod dot;
mod mermaid;
mod svg;

pub use dot::to_dot;
pub use mermaid::to_mermaid;
pub use svg::{to_svg, SvgStyle};

/// What a node is; it decides the shape it is drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Endpoint,
    Topic,
    Sink,
    Table,
    DeadLetters,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Unique, and safe as an identifier in both Mermaid and DOT.
    pub id: String,
    pub kind: NodeKind,
    /// Which one of its kind, in the plan's order: the endpoint, topic or
    /// sink index; a table's is its sink's.
    pub index: usize,
    /// Lines of the label, the first one the node's name.
    pub label: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// What passes, when not everything does (a sink's filter).
    pub label: Option<String>,
    /// The dead-letter edges: only what does not fit the schema.
    pub dashed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// The pipeline's graph, left to right in the order the file declares things.
pub fn graph(plan: &Plan) -> Graph {
    let mut out = Graph::default();
    for (i, endpoint) in plan.endpoints.iter().enumerate() {
        let id = format!("endpoint_{i}");
        let mut label = vec![format!("{} {}", endpoint.method.as_str(), endpoint.path)];
        if endpoint.json_body {
            label.push("body json".into());
        }
        if endpoint.auth.is_some() {
            label.push("bearer token".into());
        }
        out.nodes.push(Node {
            id: id.clone(),
            kind: NodeKind::Endpoint,
            index: i,
            label,
        });
        out.edges.push(Edge {
            from: id,
            to: format!("topic_{}", endpoint.topic.index()),
            label: None,
            dashed: false,
        });
    }
    for (i, topic) in plan.topics.iter().enumerate() {
        let partitions = match topic.partitions {
            1 => "1 partition".to_string(),
            n => format!("{n} partitions"),
        };
        out.nodes.push(Node {
            id: format!("topic_{i}"),
            kind: NodeKind::Topic,
            index: i,
            label: vec![
                topic.name.clone(),
                format!("schema {}, {partitions}", topic.schema.name),
            ],
        });
    }
    let dead = &plan.dead_letters;
    for (i, sink) in plan.sinks.iter().enumerate() {
        let id = format!("sink_{i}");
        let trigger = match &sink.trigger {
            Trigger::Once => "trigger once".to_string(),
            every => every.to_string(),
        };
        let mut label = vec![sink.name.clone(), trigger];
        if let Some(partitioning) = &sink.partitioning {
            label.push(format!("partition by {}", partitioning.column().0));
        }
        if !sink.format.is_parquet() {
            label.push(format!("format {}", sink.format.keyword()));
        }
        out.nodes.push(Node {
            id: id.clone(),
            kind: NodeKind::Sink,
            index: i,
            label,
        });
        out.edges.push(Edge {
            from: format!("topic_{}", sink.topic.index()),
            to: id.clone(),
            label: sink
                .filter
                .as_ref()
                .map(|f| format!("where {}", expression(f))),
            dashed: false,
        });
        let table = plan.tables.iter().position(|t| t.sink.index() == i);
        let (table_id, table_label) = match table {
            Some(t) => (format!("table_{t}"), plan.tables[t].qualified_name()),
            None => (format!("sink_table_{i}"), format!("default.{}", sink.name)),
        };
        out.nodes.push(Node {
            id: table_id.clone(),
            kind: NodeKind::Table,
            index: i,
            label: vec![table_label, format!("{} columns", sink.columns.len())],
        });
        out.edges.push(Edge {
            from: id.clone(),
            to: table_id,
            label: None,
            dashed: false,
        });
        out.edges.push(Edge {
            from: id,
            to: "dead_letters".into(),
            label: None,
            dashed: true,
        });
    }
    if !plan.sinks.is_empty() {
        out.nodes.push(Node {
            id: "dead_letters".into(),
            kind: NodeKind::DeadLetters,
            index: 0,
            label: vec![
                format!("{}.{}", dead.database, dead.table),
                "messages that do not fit".into(),
            ],
        });
    }
    out
}

/// A filter as the file would write it.
pub fn expression(expr: &TypedExpr) -> String {
    use crate::expr::{ArithmeticOp, CompareOp};
    use crate::plan::Value;
    let value = |v: &Value| match v {
        Value::String(s) => format!("{s:?}"),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Timestamp(t) => format!("{:?}", crate::time::format_timestamp(*t)),
        Value::Null => "null".into(),
    };
    let nested = |e: &TypedExpr| match e {
        TypedExpr::And(..) | TypedExpr::Or(..) | TypedExpr::Arithmetic { .. } => {
            format!("({})", expression(e))
        }
        _ => expression(e),
    };
    match expr {
        TypedExpr::Literal(v) => value(v),
        TypedExpr::Column { name, .. } => name.clone(),
        TypedExpr::Not { expr: inner } => format!("not {}", nested(inner)),
        TypedExpr::And(a, b) => format!("{} and {}", nested(a), nested(b)),
        TypedExpr::Or(a, b) => format!("{} or {}", nested(a), nested(b)),
        TypedExpr::Compare { op, lhs, rhs } => {
            let op = match op {
                CompareOp::Eq => "==",
                CompareOp::NotEq => "!=",
                CompareOp::Lt => "<",
                CompareOp::LtEq => "<=",
                CompareOp::Gt => ">",
                CompareOp::GtEq => ">=",
            };
            format!("{} {op} {}", nested(lhs), nested(rhs))
        }
        TypedExpr::Arithmetic { op, lhs, rhs, .. } => {
            let op = match op {
                ArithmeticOp::Add => "+",
                ArithmeticOp::Sub => "-",
                ArithmeticOp::Mul => "*",
                ArithmeticOp::Div => "/",
                ArithmeticOp::Mod => "%",
            };
            format!("{} {op} {}", nested(lhs), nested(rhs))
        }
        TypedExpr::IsNull { expr, negated } => format!(
            "{} is {}null",
            nested(expr),
            if *negated { "not " } else { "" }
        ),
        TypedExpr::InList {
            expr,
            list,
            negated,
        } => format!(
            "{} {}in ({})",
            nested(expr),
            if *negated { "not " } else { "" },
            list.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        TypedExpr::Call { function, args } => format!(
            "{}({})",
            function.name(),
            args.iter().map(expression).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compile, Source};
    use std::collections::BTreeMap;

    #[test]
    fn filters_print_as_the_file_writes_them() {
        let text = "schema e {\n a: string\n n: int?\n}\ntopic t { schema e }\n\
                    sink s { from t\n where (n + 1) * 2 > 3 and a in (\"x\", \"y\") or not a is null\n path \"s\"\n checkpoint \"c\" }";
        let plan = compile(&Source::new("t.pipe", text), &BTreeMap::new())
            .unwrap()
            .plan;
        assert_eq!(
            expression(plan.sinks[0].filter.as_ref().unwrap()),
            "(((n + 1) * 2) > 3 and a in (\"x\", \"y\")) or not a is null"
        );
    }

    /// The structure GitHub's Mermaid needs: one `flowchart` header, node
    /// ids declared once, every edge between declared nodes, labels whose
    /// quotes are balanced and free of raw markup.
    #[test]
    fn mermaid_is_well_formed_for_the_seed() {
        let text = include_str!("../../../pipelines/game_events.pipe");
        let plan = compile(&Source::new("seed.pipe", text), &BTreeMap::new())
            .unwrap()
            .plan;
        let mermaid = to_mermaid(&graph(&plan));
        let mut lines = mermaid.lines();
        assert_eq!(lines.next(), Some("flowchart LR"));
        let mut declared = std::collections::BTreeSet::new();
        for line in lines {
            let line = line.trim();
            assert_eq!(line.matches('"').count() % 2, 0, "{line}");
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() >= 3 && (words[1].starts_with("-->") || words[1] == "-.->") {
                let to = words.last().unwrap();
                assert!(declared.contains(words[0]), "{line}");
                assert!(declared.contains(*to), "{line}");
            } else {
                let id: String = line
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                assert!(!id.is_empty(), "{line}");
                assert!(declared.insert(id), "declared twice: {line}");
            }
        }
        assert!(
            mermaid
                .contains("topic_0 -->|\"where event_type == #quot;purchase_sword#quot;\"| sink_0"),
            "{mermaid}"
        );
        assert!(mermaid.contains("sink_0 -.-> dead_letters"), "{mermaid}");
    }
}
