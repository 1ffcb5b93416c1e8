//! Types a sink's `where` expression against the topic's schema.

use super::endpoint::article;
use super::Checker;
use crate::ast::{BinaryOp, Expr, ExprKind, Literal};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::expr::{ArithmeticOp, CompareOp, Function, TypedExpr};
use crate::plan::{self, Value, METADATA_COLUMNS};
use crate::types::DataType;

/// What a sink's filter, `columns` and `partition by` can name: its metadata
/// columns, by the names the sink gives them, and the schema's fields.
pub(super) struct SinkColumns<'a> {
    pub schema: &'a plan::Schema,
    pub metadata: &'a plan::MetadataNames,
}

impl<'a> SinkColumns<'a> {
    pub fn all(&self) -> Vec<(&'a str, DataType)> {
        let metadata: &'a plan::MetadataNames = self.metadata;
        [
            (metadata.raw_event.as_str(), METADATA_COLUMNS[0].1),
            (metadata.timestamp.as_str(), METADATA_COLUMNS[1].1),
        ]
        .into_iter()
        .chain(
            self.schema
                .fields
                .iter()
                .map(|f| (f.name.as_str(), f.data_type)),
        )
        .collect()
    }
}

impl Checker<'_> {
    /// The typed filter, if it is a well-typed boolean expression.
    pub(super) fn filter(&mut self, expr: &Expr, schema: &SinkColumns) -> Option<TypedExpr> {
        let typed = self.typed(expr, schema)?;
        if typed.data_type() != DataType::Bool {
            self.report(
                Diagnostic::new(
                    Code::NotBoolean,
                    expr.span,
                    format!(
                        "a filter must be true or false, but this is {} {}",
                        article(typed.data_type()),
                        typed.data_type()
                    ),
                )
                .with_label("not a condition")
                .with_help(
                    "compare it with something, for example `event_type == \"purchase_sword\"`",
                ),
            );
            return None;
        }
        Some(typed)
    }

    fn typed(&mut self, expr: &Expr, schema: &SinkColumns) -> Option<TypedExpr> {
        match &expr.node {
            ExprKind::Literal(literal) => Some(TypedExpr::Literal(literal_value(literal))),
            ExprKind::Column(name) => {
                let columns = schema.all();
                if let Some((column, data_type)) = columns.iter().find(|(c, _)| *c == name.text) {
                    return Some(TypedExpr::Column {
                        name: column.to_string(),
                        data_type: *data_type,
                    });
                }
                let help = match schema.schema.fields.iter().find(|f| f.key == name.text) {
                    Some(f) => Some(format!(
                        "the field reading `{}` is named `{}`",
                        f.key, f.name
                    )),
                    None => closest(&name.text, columns.iter().map(|(c, _)| *c))
                        .map(|c| format!("did you mean `{c}`?")),
                };
                self.report(
                    Diagnostic::new(
                        Code::UnknownField,
                        name.span,
                        format!("unknown column `{}`", name.text),
                    )
                    .with_label(format!("schema `{}` has no such field", schema.schema.name))
                    .with_help_opt(help),
                );
                None
            }
            ExprKind::Not(inner) => {
                let typed = self.typed(inner, schema)?;
                self.expect_bool(&typed, inner, "`not`")?;
                Some(TypedExpr::Not {
                    expr: Box::new(typed),
                })
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (left, right) = (self.typed(lhs, schema), self.typed(rhs, schema));
                let (left, right) = (left?, right?);
                match op.node {
                    BinaryOp::And | BinaryOp::Or => {
                        let word = format!("`{}`", op.node.symbol());
                        let left_ok = self.expect_bool(&left, lhs, &word);
                        let right_ok = self.expect_bool(&right, rhs, &word);
                        left_ok?;
                        right_ok?;
                        let (l, r) = (Box::new(left), Box::new(right));
                        Some(if op.node == BinaryOp::And {
                            TypedExpr::And(l, r)
                        } else {
                            TypedExpr::Or(l, r)
                        })
                    }
                    BinaryOp::SingleEq => {
                        self.report(
                            Diagnostic::new(
                                Code::SingleEquals,
                                op.span,
                                "`=` assigns; a filter compares with `==`",
                            )
                            .with_label("write `==` here"),
                        );
                        None
                    }
                    arithmetic if arithmetic.is_arithmetic() => {
                        self.arithmetic(arithmetic, op.span, lhs, rhs, left, right)
                    }
                    compare => self.comparison(compare, lhs, rhs, left, right),
                }
            }
            ExprKind::IsNull {
                expr: inner,
                negated,
            } => Some(TypedExpr::IsNull {
                expr: Box::new(self.typed(inner, schema)?),
                negated: *negated,
            }),
            ExprKind::InList {
                expr: inner,
                list,
                negated,
            } => {
                let typed = self.typed(inner, schema)?;
                let expected = typed.data_type();
                let mut values = Vec::new();
                let mut ok = true;
                for item in list {
                    let value = literal_value(&item.node);
                    match coerce(&value, expected) {
                        Some(value) => values.push(value),
                        None => {
                            ok = false;
                            let found = crate::expr::value_type(&value);
                            let diagnostic = Diagnostic::new(
                                Code::TypeMismatch,
                                item.span,
                                match found {
                                    Some(found) => format!(
                                        "`{}` is {} {expected}, but this item is {} {found}",
                                        self.source.slice(inner.span),
                                        article(expected),
                                        article(found)
                                    ),
                                    None => "`null` in a list never matches".to_string(),
                                },
                            )
                            .with_label(format!("expected {} {expected}", article(expected)));
                            self.report(match found {
                                None => diagnostic.with_help(format!(
                                    "test for null with `{} is null`",
                                    self.source.slice(inner.span)
                                )),
                                Some(DataType::Int | DataType::Float | DataType::Bool)
                                    if expected == DataType::String =>
                                {
                                    diagnostic.with_help(format!(
                                        "quote it: `\"{}\"`",
                                        self.source.slice(item.span)
                                    ))
                                }
                                _ => diagnostic,
                            });
                        }
                    }
                }
                if list.is_empty() {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            expr.span,
                            "an empty list matches nothing",
                        )
                        .with_label("`in []` is always false"),
                    );
                    return None;
                }
                ok.then(|| TypedExpr::InList {
                    expr: Box::new(typed),
                    list: values,
                    negated: *negated,
                })
            }
            ExprKind::Call { function, args } => {
                let Some(known) = Function::from_name(&function.text) else {
                    let help = closest(&function.text, Function::ALL.iter().map(|f| f.name()))
                        .map(|c| format!("did you mean `{c}`?"))
                        .unwrap_or_else(|| {
                            let all: Vec<_> = Function::ALL
                                .iter()
                                .map(|f| format!("`{}`", f.name()))
                                .collect();
                            format!("filters know {}", all.join(", "))
                        });
                    self.report(
                        Diagnostic::new(
                            Code::UnknownFunction,
                            function.span,
                            format!("unknown function `{}`", function.text),
                        )
                        .with_label("no function has this name")
                        .with_help(help),
                    );
                    return None;
                };
                let parameters = known.parameters();
                if args.len() != parameters.len() {
                    let plural = if parameters.len() == 1 { "" } else { "s" };
                    self.report(
                        Diagnostic::new(
                            Code::WrongArity,
                            expr.span,
                            format!(
                                "`{}` takes {} argument{plural}, but {} {} given",
                                known.name(),
                                parameters.len(),
                                args.len(),
                                if args.len() == 1 { "was" } else { "were" }
                            ),
                        )
                        .with_label(format!("expected {}", known.signature()))
                        .with_help(format!("call it as `{}`", known.signature())),
                    );
                    return None;
                }
                let mut typed_args = Vec::new();
                let mut ok = true;
                for (arg, expected) in args.iter().zip(parameters) {
                    let Some(typed) = self.typed(arg, schema) else {
                        ok = false;
                        continue;
                    };
                    let typed = match &typed {
                        TypedExpr::Literal(value) => {
                            coerce(value, *expected).map(TypedExpr::Literal)
                        }
                        _ => (typed.data_type() == *expected).then_some(typed.clone()),
                    };
                    match typed {
                        Some(typed) => typed_args.push(typed),
                        None => {
                            ok = false;
                            self.report(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    arg.span,
                                    format!(
                                        "`{}` expects {} {expected} here",
                                        known.name(),
                                        article(*expected)
                                    ),
                                )
                                .with_label(format!("expected {} {expected}", article(*expected)))
                                .with_help(format!("`{}`", known.signature())),
                            );
                        }
                    }
                }
                ok.then_some(TypedExpr::Call {
                    function: known,
                    args: typed_args,
                })
            }
        }
    }

    fn expect_bool(&mut self, typed: &TypedExpr, expr: &Expr, context: &str) -> Option<()> {
        if typed.data_type() == DataType::Bool {
            return Some(());
        }
        self.report(
            Diagnostic::new(
                Code::NotBoolean,
                expr.span,
                format!(
                    "{context} needs a condition, but this is {} {}",
                    article(typed.data_type()),
                    typed.data_type()
                ),
            )
            .with_label("not true or false"),
        );
        None
    }

    /// `+ - * / %` on numbers: int with int stays int (`/` excepted, which
    /// always divides as floats), anything with a float is a float.
    fn arithmetic(
        &mut self,
        op: BinaryOp,
        op_span: crate::source::Span,
        lhs: &Expr,
        rhs: &Expr,
        left: TypedExpr,
        right: TypedExpr,
    ) -> Option<TypedExpr> {
        let arithmetic_op = match op {
            BinaryOp::Add => ArithmeticOp::Add,
            BinaryOp::Sub => ArithmeticOp::Sub,
            BinaryOp::Mul => ArithmeticOp::Mul,
            BinaryOp::Div => ArithmeticOp::Div,
            _ => ArithmeticOp::Mod,
        };
        let mut ok = true;
        for (side, typed) in [(lhs, &left), (rhs, &right)] {
            if matches!(typed, TypedExpr::Literal(Value::Null)) {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        side.span,
                        "arithmetic with `null` is always null",
                    )
                    .with_label("null here")
                    .with_help("test for a missing value with `is null`"),
                );
                ok = false;
                continue;
            }
            let found = typed.data_type();
            if !found.is_numeric() {
                let help = match found {
                    DataType::String => format!(
                        "`{}` works on numbers; text has `length(...)`, `lower(...)` and the like",
                        op.symbol()
                    ),
                    DataType::Timestamp => {
                        "filters do no arithmetic on times; compare them: `timestamp >= \"2024-05-01\"`"
                            .to_string()
                    }
                    _ => format!("`{}` works on int and float values", op.symbol()),
                };
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        side.span,
                        format!(
                            "`{}` needs numbers, but this is {} {found}",
                            op.symbol(),
                            article(found)
                        ),
                    )
                    .with_label(format!("{} {found}", article(found)))
                    .with_secondary(op_span, "the operator")
                    .with_help(help),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let both_int = left.data_type() == DataType::Int && right.data_type() == DataType::Int;
        let data_type = if both_int && arithmetic_op != ArithmeticOp::Div {
            DataType::Int
        } else {
            DataType::Float
        };
        Some(TypedExpr::Arithmetic {
            op: arithmetic_op,
            lhs: Box::new(left),
            rhs: Box::new(right),
            data_type,
        })
    }

    fn comparison(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        left: TypedExpr,
        right: TypedExpr,
    ) -> Option<TypedExpr> {
        let compare_op = match op {
            BinaryOp::Eq => CompareOp::Eq,
            BinaryOp::NotEq => CompareOp::NotEq,
            BinaryOp::Lt => CompareOp::Lt,
            BinaryOp::LtEq => CompareOp::LtEq,
            BinaryOp::Gt => CompareOp::Gt,
            _ => CompareOp::GtEq,
        };
        let is_null = |t: &TypedExpr| matches!(t, TypedExpr::Literal(Value::Null));
        if is_null(&left) || is_null(&right) {
            let (other, null) = if is_null(&right) {
                (lhs, rhs)
            } else {
                (rhs, lhs)
            };
            let test = if op == BinaryOp::NotEq {
                "is not null"
            } else {
                "is null"
            };
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    null.span,
                    "a comparison with `null` is never true",
                )
                .with_label("compared with null")
                .with_help(format!("write `{} {test}`", self.source.slice(other.span))),
            );
            return None;
        }
        // A literal takes the type of the other side where it can (an int
        // compared with a float column, a time written as a string).
        let (left, right) = match (&left, &right) {
            (TypedExpr::Literal(value), other) if !matches!(other, TypedExpr::Literal(_)) => (
                coerce(value, other.data_type()).map_or(left.clone(), TypedExpr::Literal),
                right,
            ),
            (other, TypedExpr::Literal(value)) if !matches!(other, TypedExpr::Literal(_)) => {
                let coerced =
                    coerce(value, other.data_type()).map_or(right.clone(), TypedExpr::Literal);
                (left, coerced)
            }
            _ => (left, right),
        };
        let (lt, rt) = (left.data_type(), right.data_type());
        let comparable = lt == rt || (lt.is_numeric() && rt.is_numeric());
        if !comparable {
            let diagnostic = Diagnostic::new(
                Code::TypeMismatch,
                lhs.span.to(rhs.span),
                format!(
                    "cannot compare {} {lt} with {} {rt}",
                    article(lt),
                    article(rt)
                ),
            )
            .with_label(format!(
                "{} {lt} {} {} {rt}",
                article(lt),
                op.symbol(),
                article(rt)
            ));
            let literal_side = [(rhs, rt, lt), (lhs, lt, rt)]
                .into_iter()
                .find(|(e, _, _)| matches!(e.node, ExprKind::Literal(_)));
            let diagnostic = match literal_side {
                Some((literal, found, DataType::String))
                    if found.is_numeric() || found == DataType::Bool =>
                {
                    diagnostic.with_help(format!(
                        "quote it to compare text: `\"{}\"`",
                        self.source.slice(literal.span)
                    ))
                }
                Some((_, DataType::String, DataType::Timestamp)) => diagnostic
                    .with_help("write the time in RFC 3339, such as \"2020-08-02T22:49:11Z\""),
                _ => diagnostic,
            };
            self.report(diagnostic);
            return None;
        }
        if lt == DataType::Bool && !matches!(compare_op, CompareOp::Eq | CompareOp::NotEq) {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    lhs.span.to(rhs.span),
                    "true and false have no order",
                )
                .with_label(format!("`{}` on bools", op.symbol()))
                .with_help("compare bools with `==` or `!=`"),
            );
            return None;
        }
        Some(TypedExpr::Compare {
            op: compare_op,
            lhs: Box::new(left),
            rhs: Box::new(right),
        })
    }
}

fn literal_value(literal: &Literal) -> Value {
    match literal {
        Literal::String(s) => Value::String(s.clone()),
        Literal::Int(i) => Value::Int(*i),
        Literal::Float(f) => Value::Float(*f),
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Null => Value::Null,
    }
}

/// The literal as a value of `target`, where that is lossless.
fn coerce(value: &Value, target: DataType) -> Option<Value> {
    match (value, target) {
        (Value::Int(i), DataType::Float) => Some(Value::Float(*i as f64)),
        (Value::String(s), DataType::Timestamp) => {
            crate::time::parse_timestamp(s).map(Value::Timestamp)
        }
        (value, target) if crate::expr::value_type(value) == Some(target) => Some(value.clone()),
        _ => None,
    }
}
