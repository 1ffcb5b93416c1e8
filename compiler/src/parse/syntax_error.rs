//! Turns pest's "expected rules" into a message in the user's words.

use super::Rule;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{Source, Span};
use pest::error::{Error, ErrorVariant, InputLocation};

pub(super) fn is_keyword(rule: Rule) -> bool {
    format!("{rule:?}").starts_with("kw_")
}

pub(super) fn diagnostic(source: &Source, error: &Error<Rule>) -> Diagnostic {
    let offset = match error.location {
        InputLocation::Pos(offset) => offset,
        InputLocation::Span((start, _)) => start,
    };
    let found = Token::at(&source.text, offset);
    let positives = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };

    if positives.iter().any(|rule| {
        matches!(
            rule,
            Rule::string_text | Rule::string_escape | Rule::bad_escape
        )
    }) {
        return Diagnostic::new(Code::Syntax, found.span, "unterminated string")
            .with_label("the string is still open here")
            .with_help("a string ends with `\"` on the same line; write `\\n` for a line break");
    }

    let in_expression = positives.iter().any(|rule| {
        matches!(
            describe(*rule),
            Description::Operator | Description::Expression
        )
    });
    if in_expression {
        if let Some((what, span_len, help)) =
            not_in_language(&source.text[..offset], &source.text[offset..])
        {
            return Diagnostic::new(
                Code::Syntax,
                Span::new(offset, offset + span_len),
                format!("{what} is not in pipec's filter language"),
            )
            .with_label("not supported in filters")
            .with_help(help);
        }
    }
    let expected = expected_list(&positives);
    let message = if expected.is_empty() {
        format!("unexpected {}", found.description)
    } else {
        format!("expected {expected}, found {}", found.description)
    };
    let diagnostic =
        Diagnostic::new(Code::Syntax, found.span, message).with_label("not expected here");
    let word_before = source.text[..offset]
        .trim_end()
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    let after_setting_keyword = SETTING_KEYWORDS.contains(&word_before);
    let diagnostic = match (found.text, unclosed_brace(&source.text[..offset])) {
        ("", Some(open)) => {
            diagnostic.with_secondary(Span::new(open, open + 1), "this `{` is never closed")
        }
        _ => diagnostic,
    };
    match found.text {
        ":" if after_setting_keyword => diagnostic.with_help(format!(
            "settings take no colon: write `{word_before} ...`, not `{word_before}: ...`"
        )),
        ":" if positives.contains(&Rule::question) => diagnostic
            .with_help("a schema field is `name: type`; does the field above lack its type?"),
        ";" => diagnostic.with_help("statements end at the line's end; pipec needs no `;`"),
        "=" if positives.contains(&Rule::kw_matches) => {
            diagnostic.with_help("a row compares a column with one `=`: `event_type = \"x\"`")
        }
        "=" if positives.contains(&Rule::colon) => {
            diagnostic.with_help("a schema field is written `name: type`")
        }
        _ => diagnostic,
    }
}

/// What a filter author may write from SQL, Python or C that pipec does not
/// have, in words: the thing, how many bytes it spans from `rest`, and what
/// to write instead.
fn not_in_language(before: &str, rest: &str) -> Option<(String, usize, String)> {
    let word_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let word = &rest[..word_len];
    let previous = before.trim_end().chars().last();
    let found =
        |what: &str, len: usize, help: &str| Some((what.to_string(), len, help.to_string()));
    match word.to_ascii_lowercase().as_str() {
        "and" | "or" | "not" | "in" | "is" | "null" | "true" | "false"
            if word != word.to_ascii_lowercase() =>
        {
            return found(
                &format!("`{word}` in capitals"),
                word_len,
                &format!(
                    "keywords are written in lower case: `{}`",
                    word.to_ascii_lowercase()
                ),
            )
        }
        "like" | "ilike" => {
            return found(
                &format!("`{word}` as an operator"),
                word_len,
                "`like` is a function here: `like(host, \"%.comcast.com\")`",
            )
        }
        "between" => {
            return found(
                "`between`",
                word_len,
                "compare twice: `price >= 10 and price <= 20`",
            )
        }
        _ => {}
    }
    if rest.starts_with("&&") {
        return found("`&&`", 2, "write `and`");
    }
    if rest.starts_with("||") {
        return found("`||`", 2, "write `or` (filters do not join strings)");
    }
    if rest.starts_with('!') && !rest.starts_with("!=") {
        return found("`!` as `not`", 1, "write `not`");
    }
    if rest.starts_with('>') && previous == Some('<') {
        return found("`<>`", 1, "write `!=`");
    }
    let power = "filters have `+ - * / %` but no powers: multiply instead";
    if rest.starts_with("**") {
        return found("`**` (a power)", 2, power);
    }
    if rest.starts_with('*') && previous == Some('*') {
        return found("`**` (a power)", 1, power);
    }
    if rest.starts_with('^') {
        return found("`^` (a power)", 1, power);
    }
    if rest.starts_with("::") {
        return found(
            "a cast",
            2,
            "filters convert nothing; compare with a value of the column's type",
        );
    }
    if rest.starts_with('\'') {
        return found(
            "a string in single quotes",
            1,
            "write strings in double quotes: `\"purchase_sword\"`",
        );
    }
    None
}

/// The last `{` without its `}`, skipping strings and comments.
fn unclosed_brace(text: &str) -> Option<usize> {
    let mut open = Vec::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' => open.push(i),
            '}' => {
                open.pop();
            }
            '#' => {
                chars.by_ref().find(|(_, c)| *c == '\n');
            }
            '"' => {
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' | '\n' if !escaped => break,
                        _ => escaped = false,
                    }
                }
            }
            _ => {}
        }
    }
    open.pop()
}

/// Words that start a statement inside a block.
const SETTING_KEYWORDS: &[&str] = &[
    "schema",
    "partitions",
    "key",
    "into",
    "set",
    "headers",
    "body",
    "auth",
    "respond",
    "from",
    "where",
    "columns",
    "path",
    "checkpoint",
    "trigger",
    "compression",
    "partition",
    "format",
    "compact",
    "vacuum",
    "location",
    "properties",
    "brokers",
    "option",
    "table",
    "request",
    "message",
    "expect",
    "header",
    "query",
    "bearer",
];

/// "`a`, `b` or `c`", most useful first, without repeats.
fn expected_list(positives: &[Rule]) -> String {
    let mut items: Vec<String> = Vec::new();
    let declaration_keywords = [
        Rule::kw_pipeline,
        Rule::kw_kafka,
        Rule::kw_schema,
        Rule::kw_topic,
        Rule::kw_endpoint,
        Rule::kw_sink,
        Rule::kw_table,
        Rule::kw_dead_letters,
        Rule::kw_test,
    ];
    let at_top_level = declaration_keywords.iter().all(|k| positives.contains(k));
    if at_top_level {
        items.push(
            "a declaration (`schema`, `topic`, `endpoint`, `sink`, `table`, `kafka`, `dead_letters`, `pipeline` or `test`)"
                .to_string(),
        );
    }
    let mut operator = false;
    for rule in positives {
        if at_top_level && declaration_keywords.contains(rule) {
            continue;
        }
        let description = match describe(*rule) {
            Description::Operator => {
                operator = true;
                continue;
            }
            Description::Expression => "an expression".to_string(),
            Description::Text(text) => text,
        };
        if !items.contains(&description) {
            items.push(description);
        }
    }
    // "an expression" covers a literal, `(` and `not`.
    if items.iter().any(|i| i == "an expression") {
        let covered = [
            "`(`",
            "`not`",
            "a value (a string, number, `true`, `false` or `null`)",
        ];
        items.retain(|i| !covered.contains(&i.as_str()));
    }
    if operator {
        items.push("an operator".to_string());
    }
    match items.len() {
        0 => String::new(),
        1 => items.remove(0),
        n => {
            let last = items.remove(n - 1);
            format!("{} or {last}", items.join(", "))
        }
    }
}

enum Description {
    Text(String),
    /// Collapsed into one "an operator".
    Operator,
    /// Anything that starts an operand.
    Expression,
}

fn describe(rule: Rule) -> Description {
    use Rule::*;
    let text = match rule {
        kw_and | kw_or | op_eq | op_ne | op_le | op_ge | op_lt | op_gt | op_single_eq | op_add
        | op_sub | op_mul | op_div | op_mod | is_null | in_list => return Description::Operator,
        name | plain_name | quoted_name | name_list | qualified_name => "a name",
        string => "a string in double quotes",
        integer => "a whole number",
        float => "a number",
        duration | trigger_bound => "a duration such as `10s`",
        row_count => "a row count such as `10000 rows`",
        byte_size | byte_unit => "a size such as `128MB`",
        literal | boolean | null => "a value (a string, number, `true`, `false` or `null`)",
        http_method => "an HTTP method such as `GET`",
        field_value | header_value | query_value => {
            "a value: a literal, `header \"...\"`, `query \"...\"`, `received_time` or `request_id`"
        }
        expr | column | call | paren_expr => return Description::Expression,
        json_value => "a JSON value (an object, array, string, number, `true`, `false` or `null`)",
        json_object => "a JSON object `{...}`",
        json_array => "a JSON array `[...]`",
        json_member => "a key in double quotes",
        test_payload => "`json {...}` or a string in double quotes",
        text_match => "a string, `contains \"...\"` or `matches \"...\"`",
        rows_block | rows_contains => "`{`",
        expected_row => "`row`",
        cell => "a column name",
        cell_equals => "`=`",
        cell_contains => "`contains`",
        cell_matches => "`matches`",
        request_block => "`{`",
        message_key => "`key`",
        lbrace => "`{`",
        rbrace => "`}`",
        lparen => "`(`",
        rparen => "`)`",
        lbracket => "`[`",
        rbracket => "`]`",
        comma => "`,`",
        colon => "`:`",
        dot => "`.`",
        assign => "`=`",
        question => "`?`",
        EOI => "end of file",
        rule if is_keyword(rule) => {
            let rule_name = format!("{rule:?}");
            return Description::Text(format!("`{}`", &rule_name["kw_".len()..]));
        }
        other => return Description::Text(format!("{other:?}").replace('_', " ")),
    };
    Description::Text(text.to_string())
}

/// What the parser stopped at, for "found ...".
struct Token<'a> {
    text: &'a str,
    span: Span,
    description: String,
}

impl<'a> Token<'a> {
    fn at(text: &'a str, offset: usize) -> Token<'a> {
        let rest = &text[offset..];
        let Some(first) = rest.chars().next() else {
            return Token {
                text: "",
                span: Span::new(offset, offset),
                description: "end of file".to_string(),
            };
        };
        let len = if first.is_alphanumeric() || first == '_' {
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len())
        } else if first == '"' {
            rest[1..].find(['"', '\n']).map_or(rest.len(), |end| {
                let close = rest.as_bytes().get(end + 1) == Some(&b'"');
                end + 1 + usize::from(close)
            })
        } else {
            first.len_utf8()
        };
        let token = &rest[..len];
        let description = if first == '"' {
            "a string".to_string()
        } else if first == '\n' || first == '\r' {
            "end of line".to_string()
        } else {
            format!("`{token}`")
        };
        Token {
            text: token,
            span: Span::new(offset, offset + len),
            description,
        }
    }
}
