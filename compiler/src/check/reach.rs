//! The warning for a filter that no endpoint can satisfy.
//!
//! Each endpoint writing to the sink's topic is turned into an abstract
//! event: a field it sets to a literal has that value, a field nothing can
//! set is null, any other field may hold anything. The filter is evaluated
//! over it in SQL's three-valued logic, tracking the set of outcomes that are
//! possible. If `true` is impossible for every endpoint, no event from the
//! API can reach the sink.

use super::{Checker, Scope};
use crate::ast::{self, BinaryOp, ExprKind, Literal, SinkStmt};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::expr::{CompareOp, Function, TypedExpr};
use crate::plan::{self, HeaderCapture, Value, ValueSource};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// What an endpoint is known to put in a column.
#[derive(Debug, Clone, PartialEq)]
enum Known {
    Value(Value),
    Null,
    Anything,
}

/// A set of possible outcomes of a condition: true, false, null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outcomes {
    can_be_true: bool,
    can_be_false: bool,
    can_be_null: bool,
}

const ANY: Outcomes = Outcomes {
    can_be_true: true,
    can_be_false: true,
    can_be_null: true,
};

impl Outcomes {
    fn exactly(value: Option<bool>) -> Self {
        Outcomes {
            can_be_true: value == Some(true),
            can_be_false: value == Some(false),
            can_be_null: value.is_none(),
        }
    }

    fn each(self) -> impl Iterator<Item = Option<bool>> {
        [
            (self.can_be_true, Some(true)),
            (self.can_be_false, Some(false)),
            (self.can_be_null, None),
        ]
        .into_iter()
        .filter_map(|(possible, v)| possible.then_some(v))
    }

    fn union(self, other: Outcomes) -> Self {
        Outcomes {
            can_be_true: self.can_be_true || other.can_be_true,
            can_be_false: self.can_be_false || other.can_be_false,
            can_be_null: self.can_be_null || other.can_be_null,
        }
    }

    /// Every combination of `self` and `other` through a three-valued operator.
    fn combine(self, other: Outcomes, op: fn(Option<bool>, Option<bool>) -> Option<bool>) -> Self {
        let mut out = Outcomes::exactly(None);
        out.can_be_null = false;
        for a in self.each() {
            for b in other.each() {
                out = out.union(Outcomes::exactly(op(a, b)));
            }
        }
        out
    }
}

fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

impl Checker<'_> {
    pub(super) fn check_reachable(
        &mut self,
        sink: &plan::Sink,
        decl: &ast::SinkDecl,
        // The endpoints that write the sink's topic.
        writers: &[&plan::Endpoint],
        scope: &Scope,
    ) {
        let Some(filter) = &sink.filter else {
            return;
        };
        // A topic no endpoint writes is fed from elsewhere: nothing to say.
        if writers.is_empty() {
            return;
        }
        let Some(schema) = scope.topic_schema(sink.topic.index) else {
            return;
        };
        let reachable = writers.iter().any(|endpoint| {
            truth(filter, &known_columns(endpoint, schema, &sink.metadata)).can_be_true
        });
        if reachable {
            return;
        }
        let Some(where_expr) = decl.statements.iter().find_map(|s| match &s.node {
            SinkStmt::Where(expr) => Some(expr),
            _ => None,
        }) else {
            return;
        };

        let mut literals: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for endpoint in writers {
            for assignment in &endpoint.fields {
                if let ValueSource::Literal(Value::String(s)) = &assignment.value {
                    let values = literals.entry(assignment.field.name.clone()).or_default();
                    if !values.contains(s) {
                        values.push(s.clone());
                    }
                }
            }
        }
        let mut diagnostic = Diagnostic::new(
            Code::UnsatisfiableFilter,
            where_expr.span,
            format!(
                "no endpoint can send an event that sink `{}` keeps",
                sink.name
            ),
        )
        .with_label("false for every event the endpoints emit");
        // Point at a string the endpoints never set, with the closest one they do.
        for (column, literal, span) in string_comparisons(where_expr) {
            if let Some(values) = literals.get(&column) {
                if !values.contains(&literal) {
                    let shown: Vec<_> = values.iter().map(|v| format!("\"{v}\"")).collect();
                    diagnostic = diagnostic
                        .with_secondary(span, format!("no endpoint sets `{column}` to this"))
                        .with_help_opt(
                            closest(&literal, values.iter().map(String::as_str))
                                .map(|c| format!("did you mean \"{c}\"?")),
                        )
                        .with_help(format!("endpoints set `{column}` to {}", shown.join(", ")));
                }
            }
        }
        self.report(diagnostic);
    }
}

/// `column == "literal"` comparisons in a filter, with the literal's span.
fn string_comparisons(expr: &ast::Expr) -> Vec<(String, String, crate::source::Span)> {
    let mut out = Vec::new();
    match &expr.node {
        ExprKind::Binary { op, lhs, rhs } if op.node == BinaryOp::Eq => {
            match (&lhs.node, &rhs.node) {
                (ExprKind::Column(c), ExprKind::Literal(Literal::String(s)))
                | (ExprKind::Literal(Literal::String(s)), ExprKind::Column(c)) => {
                    let span = if matches!(rhs.node, ExprKind::Literal(_)) {
                        rhs.span
                    } else {
                        lhs.span
                    };
                    out.push((c.text.clone(), s.clone(), span));
                }
                _ => {}
            }
        }
        ExprKind::Binary { lhs, rhs, .. } => {
            out.extend(string_comparisons(lhs));
            out.extend(string_comparisons(rhs));
        }
        ExprKind::Not(inner) => out.extend(string_comparisons(inner)),
        ExprKind::InList {
            expr: inner,
            list,
            negated: false,
        } => {
            if let ExprKind::Column(c) = &inner.node {
                for item in list {
                    if let Literal::String(s) = &item.node {
                        out.push((c.text.clone(), s.clone(), item.span));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// What one endpoint is known to put in each column of its events.
fn known_columns(
    endpoint: &plan::Endpoint,
    schema: &plan::Schema,
    metadata: &plan::MetadataNames,
) -> BTreeMap<String, Known> {
    let mut known = BTreeMap::new();
    known.insert(metadata.raw_event.clone(), Known::Anything);
    known.insert(metadata.timestamp.clone(), Known::Anything);
    for field in &schema.fields {
        let assigned = endpoint.fields.iter().find(|a| a.field.name == field.name);
        let value = match assigned.map(|a| &a.value) {
            Some(ValueSource::Literal(value)) => Known::Value(value.clone()),
            Some(_) => Known::Anything,
            None if endpoint.json_body => Known::Anything,
            None => match &endpoint.headers {
                HeaderCapture::All => Known::Anything,
                HeaderCapture::Named(names)
                    if names.iter().any(|n| n.eq_ignore_ascii_case(&field.key)) =>
                {
                    Known::Anything
                }
                _ => Known::Null,
            },
        };
        known.insert(field.name.clone(), value);
    }
    known
}

fn truth(expr: &TypedExpr, known: &BTreeMap<String, Known>) -> Outcomes {
    match expr {
        TypedExpr::Not { expr: inner } => {
            let inner = truth(inner, known);
            Outcomes {
                can_be_true: inner.can_be_false,
                can_be_false: inner.can_be_true,
                can_be_null: inner.can_be_null,
            }
        }
        TypedExpr::And(a, b) => truth(a, known).combine(truth(b, known), and3),
        TypedExpr::Or(a, b) => truth(a, known).combine(truth(b, known), or3),
        TypedExpr::Compare { op, lhs, rhs } => match (value(lhs, known), value(rhs, known)) {
            (Known::Null, _) | (_, Known::Null) => Outcomes::exactly(None),
            (Known::Value(a), Known::Value(b)) => match compare(&a, &b) {
                Some(ordering) => Outcomes::exactly(Some(matches_op(*op, ordering))),
                None => ANY,
            },
            _ => ANY,
        },
        TypedExpr::IsNull { expr, negated } => match value(expr, known) {
            Known::Null => Outcomes::exactly(Some(!negated)),
            Known::Value(_) => Outcomes::exactly(Some(*negated)),
            Known::Anything => ANY,
        },
        TypedExpr::InList {
            expr,
            list,
            negated,
        } => match value(expr, known) {
            Known::Null => Outcomes::exactly(None),
            Known::Value(v) => {
                let found = list
                    .iter()
                    .any(|item| compare(&v, item) == Some(Ordering::Equal));
                Outcomes::exactly(Some(found != *negated))
            }
            Known::Anything => ANY,
        },
        TypedExpr::Call { .. }
        | TypedExpr::Column { .. }
        | TypedExpr::Literal(_)
        | TypedExpr::Arithmetic { .. } => match value(expr, known) {
            Known::Value(Value::Bool(b)) => Outcomes::exactly(Some(b)),
            Known::Null => Outcomes::exactly(None),
            _ => ANY,
        },
    }
}

fn value(expr: &TypedExpr, known: &BTreeMap<String, Known>) -> Known {
    match expr {
        TypedExpr::Literal(Value::Null) => Known::Null,
        TypedExpr::Literal(v) => Known::Value(v.clone()),
        TypedExpr::Column { name, .. } => known.get(name).cloned().unwrap_or(Known::Anything),
        TypedExpr::Call { function, args } => {
            let args: Vec<Known> = args.iter().map(|a| value(a, known)).collect();
            if args.contains(&Known::Null) {
                return Known::Null;
            }
            let texts: Option<Vec<&str>> = args
                .iter()
                .map(|a| match a {
                    Known::Value(Value::String(s)) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            let Some(texts) = texts else {
                return Known::Anything;
            };
            let result = match (function, texts.as_slice()) {
                (Function::StartsWith, [s, p]) => Value::Bool(s.starts_with(p)),
                (Function::EndsWith, [s, p]) => Value::Bool(s.ends_with(p)),
                (Function::Contains, [s, p]) => Value::Bool(s.contains(p)),
                (Function::Lower, [s]) => Value::String(s.to_lowercase()),
                (Function::Upper, [s]) => Value::String(s.to_uppercase()),
                (Function::Trim, [s]) => Value::String(s.trim().to_string()),
                (Function::Length, [s]) => Value::Int(s.chars().count() as i64),
                _ => return Known::Anything,
            };
            Known::Value(result)
        }
        // Null in, null out; any other value may make anything (and `/ 0` is null).
        TypedExpr::Arithmetic { lhs, rhs, .. } => {
            if value(lhs, known) == Known::Null || value(rhs, known) == Known::Null {
                Known::Null
            } else {
                Known::Anything
            }
        }
        _ => Known::Anything,
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::Int(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
        (Value::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn matches_op(op: CompareOp, ordering: Ordering) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::NotEq => ordering != Ordering::Equal,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::LtEq => ordering != Ordering::Greater,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::GtEq => ordering != Ordering::Less,
    }
}
