//! The value types of event fields and filter expressions.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    String,
    /// 64-bit signed.
    Int,
    /// 64-bit IEEE float.
    Float,
    Bool,
    /// Microseconds since the Unix epoch, UTC.
    Timestamp,
}

impl DataType {
    pub const ALL: [DataType; 5] = [
        DataType::String,
        DataType::Int,
        DataType::Float,
        DataType::Bool,
        DataType::Timestamp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Int => "int",
            DataType::Float => "float",
            DataType::Bool => "bool",
            DataType::Timestamp => "timestamp",
        }
    }

    pub fn from_name(name: &str) -> Option<DataType> {
        DataType::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, DataType::Int | DataType::Float)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A literal of one of the [`DataType`]s (or null).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    Null,
}
