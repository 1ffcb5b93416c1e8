//! A sink's `where`, lowered to a DataFusion expression and evaluated on
//! Arrow batches.

use arrow::array::AsArray;
use arrow::datatypes::DataType as ArrowType;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::functions::core::expr_fn as core_fn;
use datafusion::functions::string::expr_fn as string_fn;
use datafusion::functions::unicode::expr_fn as unicode_fn;
use datafusion::logical_expr::{cast, Expr, Like};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use pipec_compiler::expr::{ArithmeticOp, CompareOp, Function, TypedExpr};
use pipec_compiler::plan::Value;
use pipec_compiler::types::DataType;
use std::sync::Arc;

/// The DataFusion expression of a checked filter.
pub fn lower(expr: &TypedExpr) -> Expr {
    match expr {
        TypedExpr::Literal(value) => Expr::Literal(scalar(value), None),
        TypedExpr::Column { name, .. } => Expr::Column(Column::new_unqualified(name)),
        TypedExpr::Not { expr: inner } => Expr::Not(Box::new(lower(inner))),
        TypedExpr::And(a, b) => lower(a).and(lower(b)),
        TypedExpr::Or(a, b) => lower(a).or(lower(b)),
        TypedExpr::Compare { op, lhs, rhs } => {
            let (l, r) = (lower(lhs), lower(rhs));
            match op {
                CompareOp::Eq => l.eq(r),
                CompareOp::NotEq => l.not_eq(r),
                CompareOp::Lt => l.lt(r),
                CompareOp::LtEq => l.lt_eq(r),
                CompareOp::Gt => l.gt(r),
                CompareOp::GtEq => l.gt_eq(r),
            }
        }
        TypedExpr::IsNull {
            expr,
            negated: false,
        } => lower(expr).is_null(),
        TypedExpr::IsNull {
            expr,
            negated: true,
        } => lower(expr).is_not_null(),
        TypedExpr::InList {
            expr,
            list,
            negated,
        } => lower(expr).in_list(
            list.iter()
                .map(|v| Expr::Literal(scalar(v), None))
                .collect(),
            *negated,
        ),
        TypedExpr::Arithmetic {
            op,
            lhs,
            rhs,
            data_type,
        } => {
            let (l, r) = (lower(lhs), lower(rhs));
            // Float results are computed as floats (`7 / 2` is 3.5), and a
            // zero divisor makes null rather than an error for the batch.
            let float = *data_type == DataType::Float;
            let (l, r) = if float {
                (cast(l, ArrowType::Float64), cast(r, ArrowType::Float64))
            } else {
                (l, r)
            };
            let zero = if float {
                ScalarValue::Float64(Some(0.0))
            } else {
                ScalarValue::Int64(Some(0))
            };
            let nonzero =
                |divisor: Expr| core_fn::nullif(divisor, Expr::Literal(zero.clone(), None));
            match op {
                ArithmeticOp::Add => l + r,
                ArithmeticOp::Sub => l - r,
                ArithmeticOp::Mul => l * r,
                ArithmeticOp::Div => l / nonzero(r),
                ArithmeticOp::Mod => l % nonzero(r),
            }
        }
        TypedExpr::Call { function, args } => {
            let mut args = args.iter().map(lower);
            let mut next = || args.next().expect("the checker fixed the arity");
            match function {
                Function::StartsWith => string_fn::starts_with(next(), next()),
                Function::EndsWith => string_fn::ends_with(next(), next()),
                Function::Contains => string_fn::contains(next(), next()),
                Function::Like => {
                    let (text, pattern) = (next(), next());
                    Expr::Like(Like::new(
                        false,
                        Box::new(text),
                        Box::new(pattern),
                        None,
                        false,
                    ))
                }
                Function::Lower => string_fn::lower(next()),
                Function::Upper => string_fn::upper(next()),
                Function::Trim => string_fn::btrim(vec![next()]),
                Function::Length => unicode_fn::character_length(next()),
            }
        }
    }
}

fn scalar(value: &Value) -> ScalarValue {
    match value {
        Value::String(s) => ScalarValue::Utf8(Some(s.clone())),
        Value::Int(i) => ScalarValue::Int64(Some(*i)),
        Value::Float(f) => ScalarValue::Float64(Some(*f)),
        Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Value::Timestamp(micros) => {
            ScalarValue::TimestampMicrosecond(Some(*micros), Some("UTC".into()))
        }
        Value::Null => ScalarValue::Null,
    }
}

/// A filter ready to run on batches of one schema.
pub struct CompiledFilter {
    physical: Arc<dyn PhysicalExpr>,
}

impl CompiledFilter {
    pub fn new(expr: &TypedExpr, schema: &SchemaRef) -> Result<Self> {
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        let physical = SessionContext::new().create_physical_expr(lower(expr), &df_schema)?;
        Ok(CompiledFilter { physical })
    }

    /// The rows for which the filter is true (null counts as false, as in SQL).
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mask = self
            .physical
            .evaluate(batch)?
            .into_array(batch.num_rows())?;
        Ok(arrow::compute::filter_record_batch(
            batch,
            mask.as_boolean(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::decode::{classify, BatchBuilder};
    use arrow::array::AsArray;
    use pipec_compiler::{compile, Source};
    use std::collections::BTreeMap;

    /// Runs `filter` over `events` and returns the `id`s kept.
    fn kept(filter: &str, events: &[&str]) -> Vec<String> {
        let text = format!(
            "schema e {{\n id: string\n event_type: string\n Host: string?\n n: int?\n x: float?\n at: timestamp?\n}}\n\
             topic t {{ schema e }}\n\
             sink s {{ from t\n where {filter}\n path \"s\"\n checkpoint \"c\" }}"
        );
        let plan = compile(&Source::new("t.pipe", text), &BTreeMap::new())
            .unwrap_or_else(|d| panic!("{d:?}"))
            .plan;
        let schema = &plan.schemas[0];
        let mut builder = BatchBuilder::new(schema, &plan.sinks[0].metadata).unwrap();
        for (i, event) in events.iter().enumerate() {
            builder.push(
                event.to_string(),
                i as i64,
                classify(Some(event.as_bytes()), schema).unwrap(),
            );
        }
        let batch = builder.finish().unwrap().unwrap();
        let filter = CompiledFilter::new(
            plan.sinks[0].filter.as_ref().unwrap(),
            builder.full_schema(),
        )
        .unwrap();
        let out = filter.apply(&batch).unwrap();
        let ids = out.column_by_name("id").unwrap().as_string::<i32>();
        ids.iter().map(|v| v.unwrap().to_string()).collect()
    }

    const EVENTS: &[&str] = &[
        r#"{"id":"1","event_type":"purchase_sword","Host":"user1.comcast.com","n":5,"x":1.5,"at":"2020-08-02T10:00:00Z"}"#,
        r#"{"id":"2","event_type":"join_guild","Host":"user2.att.com","n":50}"#,
        r#"{"id":"3","event_type":"purchase_sword"}"#,
    ];

    #[test]
    fn comparisons_and_logic() {
        assert_eq!(kept("event_type == \"purchase_sword\"", EVENTS), ["1", "3"]);
        assert_eq!(
            kept("event_type != \"purchase_sword\" or n > 10", EVENTS),
            ["2"]
        );
        assert_eq!(kept("not (n >= 5)", EVENTS), [""; 0]);
        assert_eq!(kept("n >= 5 and x < 2", EVENTS), ["1"]);
        assert_eq!(
            kept("n > 4.5", EVENTS),
            ["1", "2"],
            "an int column against a float"
        );
    }

    #[test]
    fn nulls_lists_and_functions() {
        assert_eq!(kept("Host is null", EVENTS), ["3"]);
        assert_eq!(
            kept("Host is not null and ends_with(Host, \".att.com\")", EVENTS),
            ["2"]
        );
        assert_eq!(kept("event_type in [\"join_guild\", \"x\"]", EVENTS), ["2"]);
        assert_eq!(
            kept("event_type not in [\"join_guild\"]", EVENTS),
            ["1", "3"]
        );
        assert_eq!(kept("starts_with(upper(Host), \"USER1\")", EVENTS), ["1"]);
        assert_eq!(
            kept("contains(lower(event_type), \"guild\")", EVENTS),
            ["2"]
        );
        assert_eq!(kept("like(Host, \"%.comcast.%\")", EVENTS), ["1"]);
        assert_eq!(kept("length(trim(event_type)) == 10", EVENTS), ["2"]);
    }

    #[test]
    fn timestamps_compare_with_rfc3339_strings() {
        assert_eq!(kept("at > \"2020-08-02T09:00:00Z\"", EVENTS), ["1"]);
        assert_eq!(
            kept("timestamp >= \"1970-01-01T00:00:00.000001Z\"", EVENTS),
            ["2", "3"]
        );
    }

    #[test]
    fn arithmetic_with_null_for_a_zero_divisor() {
        let events = &[
            r#"{"id":"1","event_type":"a","n":7,"x":2.0}"#,
            r#"{"id":"2","event_type":"a","n":3,"x":0.0}"#,
            r#"{"id":"3","event_type":"a","n":0}"#,
            r#"{"id":"4","event_type":"a","x":1.0}"#,
        ];
        assert_eq!(kept("n * x > 10", events), ["1"]);
        assert_eq!(kept("(n + 1) * 2 == 16", events), ["1"]);
        assert_eq!(kept("n - 10 < -5", events), ["2", "3"]);
        assert_eq!(kept("n / 2 == 3.5", events), ["1"], "`/` divides as floats");
        assert_eq!(kept("n % 2 == 1", events), ["1", "2"]);
        assert_eq!(
            kept("n / x is null", events),
            ["2", "3", "4"],
            "a zero divisor and a missing value are null"
        );
        assert_eq!(kept("10 % n is null", events), ["3", "4"]);
        assert_eq!(kept("n in (3, 7)", events), ["1", "2"], "SQL's parentheses");
        assert_eq!(kept("n + 1 in (4, 8)", events), ["1", "2"]);
    }
}
