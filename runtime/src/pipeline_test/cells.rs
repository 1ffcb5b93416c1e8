//! Rows read back from the tables, as values a test can compare: Arrow's
//! many integer, float, string and timestamp types reduced to one each.

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use pipec_compiler::plan::Value;
use pipec_compiler::test_plan::CellMatch;
use regex::Regex;
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("null"),
            Cell::Str(s) => write!(f, "{s:?}"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x:?}"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Timestamp(t) => write!(f, "{:?}", pipec_compiler::time::format_timestamp(*t)),
        }
    }
}

/// A table's rows: its column names (lower case, as SQL sees them) and a
/// cell per column per row.
#[derive(Debug, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Rows {
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Rows, ArrowError> {
        let mut out = Rows::default();
        let Some(first) = batches.first() else {
            return Ok(out);
        };
        out.columns = first
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().to_lowercase())
            .collect();
        for batch in batches {
            let columns: Vec<Vec<Cell>> = batch
                .columns()
                .iter()
                .map(|c| cells(c.as_ref()))
                .collect::<Result<_, _>>()?;
            for row in 0..batch.num_rows() {
                out.rows
                    .push(columns.iter().map(|c| c[row].clone()).collect());
            }
        }
        Ok(out)
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        let name = name.to_lowercase();
        self.columns.iter().position(|c| *c == name)
    }
}

fn cells(array: &dyn Array) -> Result<Vec<Cell>, ArrowError> {
    let nulls = |i: usize| array.is_null(i);
    let len = array.len();
    let values: Vec<Cell> = match array.data_type() {
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..len).map(|i| Cell::Bool(a.value(i))).collect()
        }
        t if t.is_integer() => {
            let a = cast(array, &DataType::Int64)?;
            let a = a.as_primitive::<Int64Type>();
            (0..len).map(|i| Cell::Int(a.value(i))).collect()
        }
        t if t.is_floating() || matches!(t, DataType::Decimal128(..)) => {
            let a = cast(array, &DataType::Float64)?;
            let a = a.as_primitive::<Float64Type>();
            (0..len).map(|i| Cell::Float(a.value(i))).collect()
        }
        DataType::Timestamp(_, zone) => {
            let a = cast(
                array,
                &DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
            )?;
            let a = a.as_primitive::<TimestampMicrosecondType>();
            (0..len).map(|i| Cell::Timestamp(a.value(i))).collect()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let a = cast(array, &DataType::LargeBinary)?;
            let a = a.as_binary::<i64>();
            (0..len)
                .map(|i| Cell::Str(String::from_utf8_lossy(a.value(i)).into_owned()))
                .collect()
        }
        _ => {
            let a = cast(array, &DataType::LargeUtf8)?;
            let a = a.as_string::<i64>();
            (0..len)
                .map(|i| Cell::Str(a.value(i).to_string()))
                .collect()
        }
    };
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, v)| if nulls(i) { Cell::Null } else { v })
        .collect())
}

/// The test's regular expressions, compiled once.
#[derive(Default)]
pub struct Patterns(HashMap<String, Regex>);

impl Patterns {
    pub fn get(&mut self, pattern: &str) -> Option<&Regex> {
        if !self.0.contains_key(pattern) {
            // The checker compiled it already; a failure here is unreachable.
            let regex = Regex::new(pattern).ok()?;
            self.0.insert(pattern.to_string(), regex);
        }
        self.0.get(pattern)
    }
}

pub fn matches(matcher: &CellMatch, cell: &Cell, patterns: &mut Patterns) -> bool {
    match (matcher, cell) {
        (CellMatch::Any, cell) => *cell != Cell::Null,
        (CellMatch::Contains(text), Cell::Str(s)) => s.contains(text.as_str()),
        (CellMatch::Matches(pattern), Cell::Str(s)) => {
            patterns.get(pattern).is_some_and(|re| re.is_match(s))
        }
        (CellMatch::Equals(value), cell) => equals(value, cell),
        _ => false,
    }
}

fn equals(value: &Value, cell: &Cell) -> bool {
    let close = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    match (value, cell) {
        (Value::Null, Cell::Null) => true,
        (Value::String(a), Cell::Str(b)) => a == b,
        (Value::Int(a), Cell::Int(b)) => a == b,
        (Value::Int(a), Cell::Float(b)) => close(*a as f64, *b),
        (Value::Float(a), Cell::Float(b)) => close(*a, *b),
        (Value::Float(a), Cell::Int(b)) => close(*a, *b as f64),
        (Value::Bool(a), Cell::Bool(b)) => a == b,
        (Value::Timestamp(a), Cell::Timestamp(b)) => a == b,
        _ => false,
    }
}

/// A matcher as the test file writes it.
pub fn describe(matcher: &CellMatch) -> String {
    match matcher {
        CellMatch::Any => "any".into(),
        CellMatch::Contains(text) => format!("contains {text:?}"),
        CellMatch::Matches(pattern) => format!("matches {pattern:?}"),
        CellMatch::Equals(value) => match value {
            Value::String(s) => format!("{s:?}"),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Bool(b) => b.to_string(),
            Value::Timestamp(t) => format!("{:?}", pipec_compiler::time::format_timestamp(*t)),
            Value::Null => "null".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array, StringArray, TimestampMillisecondArray};
    use std::sync::Arc;

    #[test]
    fn arrow_types_reduce_to_one_cell_type_each_and_nulls_stay_null() {
        let batch = RecordBatch::try_from_iter([
            (
                "N",
                Arc::new(Int32Array::from(vec![Some(7), None])) as ArrayRef,
            ),
            ("s", Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef),
            (
                "t",
                Arc::new(TimestampMillisecondArray::from(vec![1_000, 2_000])) as ArrayRef,
            ),
        ])
        .unwrap();
        let rows = Rows::from_batches(&[batch]).unwrap();
        assert_eq!(rows.columns, ["n", "s", "t"]);
        assert_eq!(rows.column("N"), Some(0));
        assert_eq!(
            rows.rows[0],
            [
                Cell::Int(7),
                Cell::Str("a".into()),
                Cell::Timestamp(1_000_000)
            ]
        );
        assert_eq!(rows.rows[1][0], Cell::Null);
    }

    #[test]
    fn matchers_compare_by_type_and_pattern() {
        let mut patterns = Patterns::default();
        let id = Cell::Str("0b8f2a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b".into());
        let uuid = CellMatch::Matches("^[0-9a-f-]{36}$".into());
        assert!(matches(&uuid, &id, &mut patterns));
        assert!(!matches(&uuid, &Cell::Str("x".into()), &mut patterns));
        assert!(matches(&CellMatch::Any, &Cell::Int(0), &mut patterns));
        assert!(!matches(&CellMatch::Any, &Cell::Null, &mut patterns));
        let two = CellMatch::Equals(Value::Int(2));
        assert!(matches(&two, &Cell::Float(2.0), &mut patterns));
        assert!(!matches(&two, &Cell::Str("2".into()), &mut patterns));
        let contains = CellMatch::Contains("JSON".into());
        assert!(matches(
            &contains,
            &Cell::Str("not JSON: x".into()),
            &mut patterns
        ));
    }
}
