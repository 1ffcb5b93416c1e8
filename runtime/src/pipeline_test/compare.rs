//! Expected rows against the rows a table holds: order-insensitive, each
//! expected row paired with a different actual row (a maximum bipartite
//! matching, so a loose row cannot steal the only partner of a strict one).

use super::cells::{describe, matches, Cell, Patterns, Rows};
use pipec_compiler::test_plan::{ExpectedRow, RowsMode, TableExpectation};

/// What did not hold, with the rows to show.
#[derive(Debug, Clone, PartialEq)]
pub struct RowDiff {
    /// Why the expectation failed, in a sentence.
    pub summary: String,
    /// The columns shown: those the expected rows name, or all for `empty`.
    pub columns: Vec<String>,
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiffLine {
    pub kind: DiffKind,
    /// For expected rows, the byte offset of the row in the file.
    pub at: Option<usize>,
    pub cells: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    /// An expected row that found its row.
    Matched,
    /// An expected row no actual row matches.
    Missing,
    /// An actual row no expected row claims (`exactly` and `empty` only).
    Unexpected,
    /// An actual row shown for context (`contains`).
    Other,
}

/// `None` when the expectation holds.
pub fn compare(expectation: &TableExpectation, actual: &Rows) -> Option<RowDiff> {
    let mut patterns = Patterns::default();
    let expected = &expectation.rows;
    let fits = |e: &ExpectedRow, a: &[Cell], patterns: &mut Patterns| {
        e.cells.iter().all(|cell| {
            actual
                .column(&cell.column)
                .is_some_and(|c| matches(&cell.matcher, &a[c], patterns))
        })
    };
    let candidates: Vec<Vec<usize>> = expected
        .iter()
        .map(|e| {
            (0..actual.rows.len())
                .filter(|&a| fits(e, &actual.rows[a], &mut patterns))
                .collect()
        })
        .collect();
    let partner = maximum_matching(&candidates, actual.rows.len());
    let missing = partner.iter().filter(|p| p.is_none()).count();
    let claimed: Vec<bool> = {
        let mut claimed = vec![false; actual.rows.len()];
        for a in partner.iter().flatten() {
            claimed[*a] = true;
        }
        claimed
    };
    let unclaimed = claimed.iter().filter(|c| !**c).count();
    let summary = match expectation.mode {
        RowsMode::Empty if actual.rows.is_empty() => return None,
        RowsMode::Empty => format!(
            "`{}` should have no rows, but has {}",
            expectation.name,
            count(actual.rows.len())
        ),
        RowsMode::Contains if missing == 0 => return None,
        RowsMode::Exactly if missing == 0 && unclaimed == 0 => return None,
        RowsMode::Contains => format!(
            "`{}` has no row matching {} of the {} expected ({} in the table)",
            expectation.name,
            missing,
            count(expected.len()),
            count(actual.rows.len())
        ),
        RowsMode::Exactly => format!(
            "`{}` should have exactly {}, but has {}: {missing} expected not found, {unclaimed} not expected",
            expectation.name,
            count(expected.len()),
            count(actual.rows.len())
        ),
    };
    let columns: Vec<String> = if expectation.mode == RowsMode::Empty {
        actual.columns.clone()
    } else {
        let mut named: Vec<String> = Vec::new();
        for cell in expected.iter().flat_map(|e| &e.cells) {
            if !named.iter().any(|n| n.eq_ignore_ascii_case(&cell.column)) {
                named.push(cell.column.clone());
            }
        }
        named
    };
    let mut lines = Vec::new();
    for (row, partner) in expected.iter().zip(&partner) {
        let cells = columns
            .iter()
            .map(|column| {
                row.cells
                    .iter()
                    .find(|c| c.column.eq_ignore_ascii_case(column))
                    .map_or_else(|| "·".to_string(), |c| describe(&c.matcher))
            })
            .collect();
        lines.push(DiffLine {
            kind: if partner.is_some() {
                DiffKind::Matched
            } else {
                DiffKind::Missing
            },
            at: Some(row.span.start),
            cells,
        });
    }
    let shown = |a: &Vec<Cell>| {
        columns
            .iter()
            .map(|column| {
                actual
                    .column(column)
                    .map_or_else(|| "·".to_string(), |c| a[c].to_string())
            })
            .collect()
    };
    for (index, row) in actual.rows.iter().enumerate() {
        if claimed[index] {
            continue;
        }
        let kind = match expectation.mode {
            RowsMode::Contains => DiffKind::Other,
            _ => DiffKind::Unexpected,
        };
        lines.push(DiffLine {
            kind,
            at: None,
            cells: shown(row),
        });
    }
    Some(RowDiff {
        summary,
        columns,
        lines,
    })
}

fn count(n: usize) -> String {
    match n {
        1 => "1 row".to_string(),
        n => format!("{n} rows"),
    }
}

/// Kuhn's augmenting paths: for each expected row, the actual row it is
/// paired with, maximising the pairs.
fn maximum_matching(candidates: &[Vec<usize>], actual: usize) -> Vec<Option<usize>> {
    fn augment(
        e: usize,
        candidates: &[Vec<usize>],
        owner: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for &a in &candidates[e] {
            if seen[a] {
                continue;
            }
            seen[a] = true;
            if owner[a].is_none_or(|other| augment(other, candidates, owner, seen)) {
                owner[a] = Some(e);
                return true;
            }
        }
        false
    }
    let mut owner: Vec<Option<usize>> = vec![None; actual];
    for e in 0..candidates.len() {
        let mut seen = vec![false; actual];
        augment(e, candidates, &mut owner, &mut seen);
    }
    let mut partner = vec![None; candidates.len()];
    for (a, e) in owner.iter().enumerate() {
        if let Some(e) = e {
            partner[*e] = Some(a);
        }
    }
    partner
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipec_compiler::plan::Value;
    use pipec_compiler::source::Span;
    use pipec_compiler::test_plan::{CellMatch, ExpectTarget, ExpectedCell};

    fn row(cells: &[(&str, CellMatch)]) -> ExpectedRow {
        ExpectedRow {
            cells: cells
                .iter()
                .map(|(column, matcher)| ExpectedCell {
                    column: column.to_string(),
                    matcher: matcher.clone(),
                    span: Span::default(),
                })
                .collect(),
            span: Span::default(),
        }
    }

    fn expectation(mode: RowsMode, rows: Vec<ExpectedRow>) -> TableExpectation {
        TableExpectation {
            target: ExpectTarget::DeadLetters,
            name: "t".into(),
            mode,
            rows,
            span: Span::default(),
        }
    }

    fn actual(values: &[&str]) -> Rows {
        Rows {
            columns: vec!["host".into()],
            rows: values
                .iter()
                .map(|v| vec![Cell::Str(v.to_string())])
                .collect(),
        }
    }

    fn host(value: &str) -> CellMatch {
        CellMatch::Equals(Value::String(value.into()))
    }

    #[test]
    fn a_loose_row_does_not_steal_the_only_partner_of_a_strict_one() {
        // Greedy pairing would give `any` the "a" row and leave `"a"` without.
        let rows = vec![
            row(&[("Host", CellMatch::Any)]),
            row(&[("Host", host("a"))]),
        ];
        let holds = compare(&expectation(RowsMode::Exactly, rows), &actual(&["a", "b"]));
        assert_eq!(holds, None);
    }

    #[test]
    fn exactly_fails_on_a_missing_and_on_an_extra_row_and_shows_both() {
        let rows = vec![row(&[("Host", host("a"))])];
        let diff = compare(&expectation(RowsMode::Exactly, rows), &actual(&["b"])).unwrap();
        assert!(
            diff.summary
                .contains("1 expected not found, 1 not expected"),
            "{}",
            diff.summary
        );
        let kinds: Vec<DiffKind> = diff.lines.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, [DiffKind::Missing, DiffKind::Unexpected]);
        assert_eq!(diff.lines[1].cells, ["\"b\""]);
    }

    #[test]
    fn contains_ignores_extra_rows_and_empty_wants_none() {
        let rows = vec![row(&[("Host", host("a"))])];
        assert_eq!(
            compare(&expectation(RowsMode::Contains, rows), &actual(&["b", "a"])),
            None
        );
        assert_eq!(
            compare(&expectation(RowsMode::Empty, vec![]), &actual(&[])),
            None
        );
        let diff = compare(&expectation(RowsMode::Empty, vec![]), &actual(&["x"])).unwrap();
        assert!(diff.summary.contains("should have no rows, but has 1 row"));
    }

    #[test]
    fn the_same_expected_row_twice_needs_two_actual_rows() {
        let rows = vec![row(&[("Host", host("a"))]), row(&[("Host", host("a"))])];
        assert!(compare(&expectation(RowsMode::Contains, rows), &actual(&["a"])).is_some());
    }
}
