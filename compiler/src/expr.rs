//! Typed filter expressions, as the checker resolves them. The runtime lowers
//! these to DataFusion expressions; the checker also evaluates them over the
//! values endpoints are known to set (`check::reach`).

use crate::types::{DataType, Value};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypedExpr {
    Literal(Value),
    /// A sink column: a schema field or a metadata column, by column name.
    Column {
        name: String,
        #[serde(rename = "type")]
        data_type: DataType,
    },
    /// A struct variant, not a newtype: YAML cannot tag an enum inside an
    /// enum's newtype (`!not !compare`), and the plan must always serialise.
    Not {
        expr: Box<TypedExpr>,
    },
    And(Box<TypedExpr>, Box<TypedExpr>),
    Or(Box<TypedExpr>, Box<TypedExpr>),
    Compare {
        op: CompareOp,
        lhs: Box<TypedExpr>,
        rhs: Box<TypedExpr>,
    },
    IsNull {
        expr: Box<TypedExpr>,
        negated: bool,
    },
    InList {
        expr: Box<TypedExpr>,
        list: Vec<Value>,
        negated: bool,
    },
    Call {
        function: Function,
        args: Vec<TypedExpr>,
    },
    /// Numbers only. Division and remainder by zero are null, as in Hive
    /// and Spark, so a filter never fails on one event.
    Arithmetic {
        op: ArithmeticOp,
        lhs: Box<TypedExpr>,
        rhs: Box<TypedExpr>,
        /// Int when both sides are ints (except for `/`), else float.
        #[serde(rename = "type")]
        data_type: DataType,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArithmeticOp {
    Add,
    Sub,
    Mul,
    /// Always divides as floats: `7 / 2` is `3.5`.
    Div,
    /// The remainder, with the sign of the dividend (as in SQL).
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

/// The functions a filter can call. Each maps to a DataFusion function of the
/// same meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    StartsWith,
    EndsWith,
    Contains,
    /// SQL `LIKE` with `%` and `_`.
    Like,
    Lower,
    Upper,
    Trim,
    Length,
}

impl Function {
    pub const ALL: [Function; 8] = [
        Function::StartsWith,
        Function::EndsWith,
        Function::Contains,
        Function::Like,
        Function::Lower,
        Function::Upper,
        Function::Trim,
        Function::Length,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Function::StartsWith => "starts_with",
            Function::EndsWith => "ends_with",
            Function::Contains => "contains",
            Function::Like => "like",
            Function::Lower => "lower",
            Function::Upper => "upper",
            Function::Trim => "trim",
            Function::Length => "length",
        }
    }

    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn parameters(self) -> &'static [DataType] {
        match self {
            Function::StartsWith | Function::EndsWith | Function::Contains | Function::Like => {
                &[DataType::String, DataType::String]
            }
            Function::Lower | Function::Upper | Function::Trim | Function::Length => {
                &[DataType::String]
            }
        }
    }

    pub fn returns(self) -> DataType {
        match self {
            Function::StartsWith | Function::EndsWith | Function::Contains | Function::Like => {
                DataType::Bool
            }
            Function::Lower | Function::Upper | Function::Trim => DataType::String,
            Function::Length => DataType::Int,
        }
    }

    /// `starts_with(text, prefix)`, for messages.
    pub fn signature(self) -> String {
        let params = match self.parameters().len() {
            1 => "text",
            _ if self == Function::Like => "text, pattern",
            _ => "text, part",
        };
        format!("{}({params}) -> {}", self.name(), self.returns())
    }
}

impl TypedExpr {
    pub fn data_type(&self) -> DataType {
        match self {
            TypedExpr::Literal(value) => value_type(value).unwrap_or(DataType::String),
            TypedExpr::Column { data_type, .. } => *data_type,
            TypedExpr::Call { function, .. } => function.returns(),
            TypedExpr::Arithmetic { data_type, .. } => *data_type,
            _ => DataType::Bool,
        }
    }
}

/// The type of a literal value; `None` for null, which fits every type.
pub fn value_type(value: &Value) -> Option<DataType> {
    match value {
        Value::String(_) => Some(DataType::String),
        Value::Int(_) => Some(DataType::Int),
        Value::Float(_) => Some(DataType::Float),
        Value::Bool(_) => Some(DataType::Bool),
        Value::Timestamp(_) => Some(DataType::Timestamp),
        Value::Null => None,
    }
}
