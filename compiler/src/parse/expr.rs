//! Filter expressions: operator precedence by pest's Pratt parser.

use super::{content, first, name, span, AstBuilder, Rule};
use crate::ast::{BinaryOp, Expr, ExprKind, Spanned};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::LazyLock;

/// Loosest first: `or`, `and`, `not`, comparisons, `is null` / `in [...]`,
/// `+ -`, `* / %`: `price * qty > 100` and `a + b in (1, 2)` read as in SQL.
static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::kw_or, Assoc::Left))
        .op(Op::infix(Rule::kw_and, Assoc::Left))
        .op(Op::prefix(Rule::kw_not))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::op_single_eq, Assoc::Left))
        .op(Op::postfix(Rule::is_null) | Op::postfix(Rule::in_list))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_mod, Assoc::Left))
});

impl AstBuilder {
    pub(super) fn expr(&mut self, pair: Pair<Rule>) -> Expr {
        debug_assert_eq!(pair.as_rule(), Rule::expr);
        // The Pratt parser takes one closure per operator kind; only the
        // primary one needs the builder, for literal diagnostics.
        let builder = std::cell::RefCell::new(self);
        let expr = PRATT
            .map_primary(|primary| builder.borrow_mut().primary(primary))
            .map_prefix(|op, rhs| {
                let op_span = span(&op);
                Spanned {
                    span: op_span.to(rhs.span),
                    node: ExprKind::Not(Box::new(rhs)),
                }
            })
            .map_infix(|lhs, op, rhs| {
                let op = Spanned {
                    span: span(&op),
                    node: binary_op(op.as_rule()),
                };
                Spanned {
                    span: lhs.span.to(rhs.span),
                    node: ExprKind::Binary {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    },
                }
            })
            .map_postfix(|lhs, op| builder.borrow_mut().postfix(lhs, op))
            .parse(pair.into_inner());
        expr
    }

    fn primary(&mut self, pair: Pair<Rule>) -> Expr {
        let primary_span = span(&pair);
        let node = match pair.as_rule() {
            Rule::paren_expr => return self.expr(first(content(pair))),
            Rule::call => {
                let mut inner = content(pair);
                let function = name(first(&mut inner));
                let args = inner.map(|arg| self.expr(arg)).collect();
                ExprKind::Call { function, args }
            }
            Rule::literal => ExprKind::Literal(self.literal(pair).node),
            Rule::column => ExprKind::Column(name(first(pair.into_inner()))),
            rule => unreachable!("the grammar yields no primary {rule:?}"),
        };
        Spanned {
            node,
            span: primary_span,
        }
    }

    fn postfix(&mut self, lhs: Expr, op: Pair<Rule>) -> Expr {
        let postfix_span = lhs.span.to(span(&op));
        let negated = op.clone().into_inner().any(|p| p.as_rule() == Rule::kw_not);
        let node = match op.as_rule() {
            Rule::is_null => ExprKind::IsNull {
                expr: Box::new(lhs),
                negated,
            },
            _ => ExprKind::InList {
                expr: Box::new(lhs),
                list: op
                    .into_inner()
                    .filter(|p| p.as_rule() == Rule::literal)
                    .map(|p| self.literal(p))
                    .collect(),
                negated,
            },
        };
        Spanned {
            node,
            span: postfix_span,
        }
    }
}

fn binary_op(rule: Rule) -> BinaryOp {
    match rule {
        Rule::kw_or => BinaryOp::Or,
        Rule::kw_and => BinaryOp::And,
        Rule::op_eq => BinaryOp::Eq,
        Rule::op_ne => BinaryOp::NotEq,
        Rule::op_lt => BinaryOp::Lt,
        Rule::op_le => BinaryOp::LtEq,
        Rule::op_gt => BinaryOp::Gt,
        Rule::op_ge => BinaryOp::GtEq,
        Rule::op_single_eq => BinaryOp::SingleEq,
        Rule::op_add => BinaryOp::Add,
        Rule::op_sub => BinaryOp::Sub,
        Rule::op_mul => BinaryOp::Mul,
        Rule::op_div => BinaryOp::Div,
        Rule::op_mod => BinaryOp::Mod,
        rule => unreachable!("the grammar yields no binary operator {rule:?}"),
    }
}
