//! What Hive accepts as a name. Shared by the checker (which rejects names no
//! engine can take) and the DDL generators (which quote reserved words).

/// Hive (and Spark, Trino, Presto) table and column names are letters,
/// digits and underscores; anything else cannot be queried reliably.
pub fn invalid_character(name: &str) -> Option<char> {
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
}

/// The longest name the Hive metastore stores for a table or column.
pub const MAX_NAME_LENGTH: usize = 128;

/// Hive 2.3+/3.x reserved keywords (`hive.support.sql11.reserved.keywords`):
/// legal in pipec, but the DDL must quote them, as the seed's `timestamp`.
pub const RESERVED_WORDS: &[&str] = &[
    "all",
    "alter",
    "and",
    "array",
    "as",
    "authorization",
    "between",
    "bigint",
    "binary",
    "boolean",
    "both",
    "by",
    "case",
    "cast",
    "char",
    "column",
    "commit",
    "conf",
    "constraint",
    "create",
    "cross",
    "cube",
    "current",
    "current_date",
    "current_timestamp",
    "cursor",
    "database",
    "date",
    "decimal",
    "delete",
    "describe",
    "distinct",
    "double",
    "drop",
    "else",
    "end",
    "exchange",
    "exists",
    "extended",
    "external",
    "false",
    "fetch",
    "float",
    "following",
    "for",
    "foreign",
    "from",
    "full",
    "function",
    "grant",
    "group",
    "grouping",
    "having",
    "if",
    "import",
    "in",
    "inner",
    "insert",
    "int",
    "intersect",
    "interval",
    "into",
    "is",
    "join",
    "lateral",
    "left",
    "less",
    "like",
    "local",
    "macro",
    "map",
    "more",
    "none",
    "not",
    "null",
    "of",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "over",
    "partialscan",
    "partition",
    "percent",
    "preceding",
    "precision",
    "preserve",
    "primary",
    "procedure",
    "range",
    "reads",
    "reduce",
    "references",
    "regexp",
    "revoke",
    "right",
    "rlike",
    "rollback",
    "rollup",
    "row",
    "rows",
    "select",
    "set",
    "smallint",
    "start",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "transform",
    "trigger",
    "true",
    "truncate",
    "unbounded",
    "union",
    "uniquejoin",
    "update",
    "user",
    "using",
    "utc_tmestamp",
    "values",
    "varchar",
    "when",
    "where",
    "window",
    "with",
];

pub fn is_reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    RESERVED_WORDS.binary_search(&lower.as_str()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_sorted_for_binary_search() {
        let mut sorted = RESERVED_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, RESERVED_WORDS);
    }

    #[test]
    fn seed_columns() {
        assert!(is_reserved("timestamp"));
        assert!(is_reserved("TIMESTAMP"));
        assert!(!is_reserved("raw_event"));
        assert_eq!(invalid_character("User-Agent"), Some('-'));
        assert_eq!(invalid_character("User_Agent"), None);
    }
}
