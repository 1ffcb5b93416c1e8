//! The formatter's tokens: just enough lexing to move tokens without
//! touching them.
//!
//! No token of the language spans a line break (strings, backtick names and
//! comments all stop at one), so a file lexes line by line. Each token's text
//! is a slice of the source, copied to the output byte for byte; only the
//! whitespace between tokens is the formatter's to choose.

/// What a token is, as far as spacing and nesting care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A keyword, plain name, number or duration (`-5`, `1.5e3`, `10s`).
    Word,
    /// `"..."`, escapes and all.
    Str,
    /// `` `...` ``
    Quoted,
    /// `{`, `[` or `(`.
    Open,
    /// `}`, `]` or `)`.
    Close,
    Comma,
    Colon,
    Dot,
    Question,
    /// `=`, `==`, `<=`, `+`, ... and any character the language does not use.
    Op,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    /// Byte offset in the whole source.
    pub offset: usize,
}

impl Token<'_> {
    /// Output width: characters, as `Source::position` counts columns.
    pub fn width(&self) -> usize {
        self.text.chars().count()
    }

    pub fn is(&self, text: &str) -> bool {
        self.text == text
    }
}

/// One source line: its tokens and its comment, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line<'a> {
    pub tokens: Vec<Token<'a>>,
    /// From `#` to the end of the line, trailing whitespace removed.
    pub comment: Option<&'a str>,
}

impl Line<'_> {
    pub fn is_blank(&self) -> bool {
        self.tokens.is_empty() && self.comment.is_none()
    }
}

/// The file's lines, lexed.
pub fn lines(text: &str) -> Vec<Line<'_>> {
    let mut offset = 0;
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        lines.push(line(raw, offset));
        offset += raw.len() + 1;
    }
    lines
}

fn line(raw: &str, base: usize) -> Line<'_> {
    let bytes = raw.as_bytes();
    let mut tokens = Vec::new();
    let mut comment = None;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let kind = match bytes[i] {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                comment = Some(raw[i..].trim_end());
                break;
            }
            b'"' => {
                i = string_end(raw, i);
                Kind::Str
            }
            b'`' => {
                i = raw[i + 1..]
                    .find('`')
                    .map_or(raw.len(), |at| i + 1 + at + 1);
                Kind::Quoted
            }
            b'{' | b'[' | b'(' => {
                i += 1;
                Kind::Open
            }
            b'}' | b']' | b')' => {
                i += 1;
                Kind::Close
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            b':' => {
                i += 1;
                Kind::Colon
            }
            b'.' => {
                i += 1;
                Kind::Dot
            }
            b'?' => {
                i += 1;
                Kind::Question
            }
            b'-' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = number_end(bytes, i + 1);
                Kind::Word
            }
            b'0'..=b'9' => {
                i = number_end(bytes, i);
                Kind::Word
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                i = word_end(bytes, i);
                Kind::Word
            }
            b'=' | b'!' | b'<' | b'>' if bytes.get(i + 1) == Some(&b'=') => {
                i += 2;
                Kind::Op
            }
            _ => {
                i += raw[i..].chars().next().map_or(1, char::len_utf8);
                Kind::Op
            }
        };
        tokens.push(Token {
            kind,
            text: &raw[start..i],
            offset: base + start,
        });
    }
    Line { tokens, comment }
}

/// The end of the string starting at `start`: after its closing quote, or
/// the end of the line for an unterminated one.
fn string_end(raw: &str, start: usize) -> usize {
    let mut chars = raw[start + 1..].char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return start + 1 + at + 1,
            '\\' => {
                chars.next();
            }
            _ => {}
        }
    }
    raw.len()
}

fn word_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    i
}

/// Digits, an optional fraction and exponent (`1.5e-3`), then whatever name
/// characters follow (`10s`, `1m`): one token, as the grammar reads it.
fn number_end(bytes: &[u8], mut i: usize) -> usize {
    let digit = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_digit);
    while digit(i) {
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') && digit(i + 1) {
        i += 1;
        while digit(i) {
            i += 1;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
            if digit(i + 1 + sign) {
                i += 1 + sign;
                while digit(i) {
                    i += 1;
                }
            }
        }
    }
    word_end(bytes, i)
}

/// Every token's text and every comment, in order: what formatting must not
/// change.
pub fn fingerprint(text: &str) -> Vec<&str> {
    lines(text)
        .into_iter()
        .flat_map(|line| {
            line.tokens
                .into_iter()
                .map(|token| token.text)
                .chain(line.comment)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line_text: &str) -> Vec<&str> {
        line(line_text, 0).tokens.iter().map(|t| t.text).collect()
    }

    #[test]
    fn strings_keep_their_escapes_and_hashes() {
        assert_eq!(
            texts(r##"respond 200 "a \"#\" b\n" # done"##),
            ["respond", "200", r##""a \"#\" b\n""##]
        );
        assert_eq!(line(r##"x "a" # c  "##, 0).comment, Some("# c"));
    }

    #[test]
    fn numbers_and_durations_are_one_token() {
        assert_eq!(
            texts("a-5 == -1.5e-3 or t > 10s and -5s"),
            ["a", "-5", "==", "-1.5e-3", "or", "t", ">", "10s", "and", "-5s"]
        );
        assert_eq!(texts("shop.big_orders"), ["shop", ".", "big_orders"]);
        assert_eq!(texts("x != 1.5"), ["x", "!=", "1.5"]);
    }

    #[test]
    fn backtick_names_are_one_token() {
        assert_eq!(
            texts("`User Agent`: string? from \"UA\""),
            ["`User Agent`", ":", "string", "?", "from", "\"UA\""]
        );
    }

    #[test]
    fn offsets_count_from_the_start_of_the_file() {
        let lexed = lines("a\n  b");
        assert_eq!(lexed[1].tokens[0].offset, 4);
    }
}
