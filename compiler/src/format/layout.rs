//! Where each token goes: indentation, spacing and alignment, line by line.
//!
//! Three passes over the lexed lines. [`place`] walks the brackets to give
//! every line its role (a statement's first line, its continuation, a line
//! inside JSON, a closing line), its indentation and the single spaces
//! between its tokens. [`align`] then widens some of those spaces, within
//! each run of one-line statements, so that values, `=` and trailing
//! comments line up. [`assemble`] indents comment lines and decides which
//! blank lines stay.

use super::lex::{Kind, Line, Token};
use std::collections::HashSet;

const INDENT: usize = 2;

/// The blocks whose statements the formatter lays out differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Kafka,
    Schema,
    Topic,
    Endpoint,
    Sink,
    Table,
    DeadLetters,
    Test,
    Request,
    /// `expect TARGET { row {...} ... }`
    Rows,
    /// `row { ... }` written over lines.
    Row,
    Properties,
    Other,
}

/// What the innermost open bracket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// The file itself: declarations.
    Top,
    /// Statements, each starting where the AST says one starts.
    Block(Block),
    /// A JSON value after `json`.
    Json,
    /// `(...)` or `[...]` in an expression.
    List,
}

/// An open bracket (or the file).
struct Open<'a> {
    context: Context,
    id: usize,
    /// The indentation of the line that opened it, where its closing line goes.
    opener_indent: usize,
    /// The indentation of the lines inside it.
    content_indent: usize,
    /// The first word of the statement being read in it: which declaration
    /// or test statement a `{` belongs to.
    head: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Blank,
    /// A comment on its own line.
    Comment,
    /// The first line of a statement (of a declaration, at the top).
    Start,
    /// A later line of a statement.
    Continuation,
    /// A line inside JSON or a list.
    Element,
    /// A line that starts by closing a bracket.
    Closer,
}

/// One line, placed.
struct Laid<'a> {
    role: Role,
    /// The bracket the line starts in.
    entry: usize,
    context: Context,
    indent: usize,
    tokens: Vec<Token<'a>>,
    /// The spaces before each token (the first's is unused).
    gaps: Vec<usize>,
    comment: Option<&'a str>,
    /// The spaces between the code and the comment.
    comment_gap: usize,
    /// Closes nothing it did not open and leaves nothing open.
    balanced: bool,
    /// How many statements of its own block start on the line.
    starts_here: usize,
    /// The last token opens a bracket.
    opens_last: bool,
}

impl Laid<'_> {
    fn blank() -> Self {
        Laid {
            role: Role::Blank,
            entry: 0,
            context: Context::Top,
            indent: 0,
            tokens: Vec::new(),
            gaps: Vec::new(),
            comment: None,
            comment_gap: 0,
            balanced: true,
            starts_here: 0,
            opens_last: false,
        }
    }

    /// The column where token `at` would start with no space before it.
    fn end_before(&self, at: usize) -> usize {
        self.indent
            + (0..at)
                .map(|i| self.gaps[i] + self.tokens[i].width())
                .sum::<usize>()
    }

    fn code_width(&self) -> usize {
        self.end_before(self.tokens.len())
    }

    fn render(&self) -> String {
        let mut out = " ".repeat(self.indent);
        for (token, gap) in self.tokens.iter().zip(&self.gaps) {
            out.extend(std::iter::repeat_n(' ', *gap));
            out.push_str(token.text);
        }
        if let Some(comment) = self.comment {
            if !self.tokens.is_empty() {
                out.extend(std::iter::repeat_n(' ', self.comment_gap));
            }
            out.push_str(comment);
        }
        out
    }

    fn block(&self) -> Option<Block> {
        match self.context {
            Context::Block(block) => Some(block),
            _ => None,
        }
    }
}

pub fn layout(lines: &[Line<'_>], starts: &HashSet<usize>) -> String {
    let mut laid = place(lines, starts);
    align(&mut laid);
    assemble(&laid)
}

/// Whether a top-level declaration has begun and not yet ended.
#[derive(Default)]
struct Declaration {
    open: bool,
    /// After `pipeline`, which ends at its name.
    awaiting_name: bool,
}

fn place<'a>(lines: &[Line<'a>], starts: &HashSet<usize>) -> Vec<Laid<'a>> {
    let mut stack = vec![Open {
        context: Context::Top,
        id: 0,
        opener_indent: 0,
        content_indent: 0,
        head: "",
    }];
    let mut next_id = 1;
    let mut declaration = Declaration::default();
    let mut laid = Vec::with_capacity(lines.len());
    for line in lines {
        let top = stack.last().expect("the file is never popped");
        if line.is_blank() {
            laid.push(Laid::blank());
            continue;
        }
        if line.tokens.is_empty() {
            laid.push(Laid {
                role: Role::Comment,
                entry: top.id,
                context: top.context,
                // Where the comment goes if no code line follows it in its
                // block: `assemble` prefers the next line's indentation.
                indent: top.content_indent,
                comment: line.comment,
                ..Laid::blank()
            });
            continue;
        }
        let tokens = &line.tokens;
        let (role, indent) = if tokens[0].kind == Kind::Close {
            (Role::Closer, top.opener_indent)
        } else {
            match top.context {
                Context::Top if declaration.open => (Role::Continuation, INDENT),
                Context::Top => (Role::Start, 0),
                Context::Block(_) if starts.contains(&tokens[0].offset) => {
                    (Role::Start, top.content_indent)
                }
                Context::Block(_) => (Role::Continuation, top.content_indent + INDENT),
                Context::Json | Context::List => (Role::Element, top.content_indent),
            }
        };
        let (entry, context, depth) = (top.id, top.context, stack.len());
        let schema_field = context == Context::Block(Block::Schema)
            && role == Role::Start
            && tokens.get(1).is_some_and(|t| t.kind == Kind::Colon);
        let mut gaps = Vec::with_capacity(tokens.len());
        let mut column = indent;
        let mut lowest = depth;
        let mut starts_here = 0;
        for (i, token) in tokens.iter().enumerate() {
            let space = match i {
                0 => 0,
                // `User_Agent: string?  from "User-Agent"`: the key stands apart.
                3 | 4 if schema_field && token.is("from") && (i == 3 || tokens[3].is("?")) => 2,
                _ => gap(&tokens[i - 1], token),
            };
            gaps.push(space);
            column += space;
            let top = stack.last_mut().expect("the file is never popped");
            match top.context {
                Context::Top if token.kind != Kind::Close => {
                    if !declaration.open {
                        declaration.open = true;
                        declaration.awaiting_name = token.is("pipeline");
                        top.head = token.text;
                    } else if declaration.awaiting_name
                        && matches!(token.kind, Kind::Word | Kind::Quoted)
                    {
                        declaration = Declaration::default();
                    }
                }
                Context::Block(_) if starts.contains(&token.offset) => {
                    top.head = token.text;
                    if stack.len() == depth {
                        starts_here += 1;
                    }
                }
                _ => {}
            }
            match token.kind {
                Kind::Open => {
                    let parent = stack.last().expect("the file is never popped");
                    let context = child(parent, i.checked_sub(1).map(|p| &tokens[p]), token);
                    let visual = matches!(context, Context::Json | Context::List);
                    let content_indent = match tokens.get(i + 1) {
                        // `{ "a": 1,` / `  "b": 2 }`: under the first member.
                        Some(next) if visual => column + token.width() + gap(token, next),
                        _ => indent + INDENT,
                    };
                    stack.push(Open {
                        context,
                        id: next_id,
                        opener_indent: indent,
                        content_indent,
                        head: "",
                    });
                    next_id += 1;
                }
                Kind::Close if stack.len() > 1 => {
                    stack.pop();
                    lowest = lowest.min(stack.len());
                    if stack.len() == 1 {
                        declaration = Declaration::default();
                    }
                }
                _ => {}
            }
            column += token.width();
        }
        laid.push(Laid {
            role,
            entry,
            context,
            indent,
            gaps,
            comment: line.comment,
            comment_gap: 2,
            balanced: lowest == depth && stack.len() == depth,
            starts_here,
            opens_last: tokens.last().is_some_and(|t| t.kind == Kind::Open),
            tokens: tokens.clone(),
        });
    }
    laid
}

/// What a bracket opens, from where it is and the token before it.
fn child(parent: &Open<'_>, previous: Option<&Token<'_>>, bracket: &Token<'_>) -> Context {
    let in_json = parent.context == Context::Json || previous.is_some_and(|t| t.is("json"));
    match bracket.text {
        "(" => Context::List,
        "[" if in_json => Context::Json,
        "[" => Context::List,
        _ if in_json => Context::Json,
        _ => Context::Block(match (parent.context, parent.head) {
            (Context::Top, "kafka") => Block::Kafka,
            (Context::Top, "schema") => Block::Schema,
            (Context::Top, "topic") => Block::Topic,
            (Context::Top, "endpoint") => Block::Endpoint,
            (Context::Top, "sink") => Block::Sink,
            (Context::Top, "table") => Block::Table,
            (Context::Top, "dead_letters") => Block::DeadLetters,
            (Context::Top, "test") => Block::Test,
            (Context::Block(Block::Test), "request") => Block::Request,
            (Context::Block(Block::Test), _) => Block::Rows,
            (Context::Block(Block::Rows), _) => Block::Row,
            (Context::Block(Block::Table), _) => Block::Properties,
            _ => Block::Other,
        }),
    }
}

/// Words after which `(` opens a parenthesised expression or list, not a call.
const OPERATOR_WORDS: &[&str] = &["and", "or", "not", "in", "is", "where"];

/// The spaces between two tokens on a line: one, or none where the language
/// is written tight.
fn gap(previous: &Token<'_>, next: &Token<'_>) -> usize {
    let tight = matches!(
        next.kind,
        Kind::Comma | Kind::Colon | Kind::Question | Kind::Dot
    ) || previous.kind == Kind::Dot
        || (previous.kind == Kind::Open && !previous.is("{"))
        || (next.kind == Kind::Close && !next.is("}"))
        || (previous.is("{") && next.is("}"))
        || (next.is("(")
            && matches!(previous.kind, Kind::Word | Kind::Quoted)
            && !OPERATOR_WORDS.contains(&previous.text));
    usize::from(!tight)
}

/// Lines up values, `=` and trailing comments within each run.
fn align(laid: &mut [Laid<'_>]) {
    let next = next_code(laid);
    let members: Vec<bool> = (0..laid.len())
        .map(|i| in_run(&laid[i], next[i].map(|n| &laid[n])))
        .collect();
    let mut i = 0;
    while i < laid.len() {
        if !members[i] {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < laid.len() && members[end] && laid[end].entry == laid[i].entry {
            end += 1;
        }
        let run = &mut laid[i..end];
        align_token(run, keyword_end);
        align_token(run, equals);
        align_comments(run);
        i = end;
    }
}

/// A run is made of consecutive one-line statements of one block (or
/// self-contained lines of one JSON value).
fn in_run(line: &Laid<'_>, next: Option<&Laid<'_>>) -> bool {
    match line.role {
        Role::Start => {
            let continued =
                next.is_some_and(|n| n.role == Role::Continuation && n.entry == line.entry);
            line.balanced && !continued
        }
        Role::Element => line.balanced,
        _ => false,
    }
}

/// For each line, the index of the next line with code on it.
fn next_code(laid: &[Laid<'_>]) -> Vec<Option<usize>> {
    let mut next = vec![None; laid.len()];
    for i in (0..laid.len().saturating_sub(1)).rev() {
        next[i] = if matches!(laid[i + 1].role, Role::Blank | Role::Comment) {
            next[i + 1]
        } else {
            Some(i + 1)
        };
    }
    next
}

/// The token after a statement's keyword, which starts its value column.
fn keyword_end(line: &Laid<'_>) -> Option<usize> {
    let tokens = &line.tokens;
    let length = match line.block()? {
        Block::Kafka
        | Block::Topic
        | Block::Endpoint
        | Block::Sink
        | Block::DeadLetters
        | Block::Row => 1,
        Block::Table if tokens[0].is("partitioned") => 2,
        Block::Table => 1,
        Block::Schema if tokens.get(1).is_some_and(|t| t.kind == Kind::Colon) => 2,
        _ => return None,
    };
    (line.starts_here == 1 && tokens.len() > length).then_some(length)
}

/// The `=` of `set NAME = value`, `header "K" = "V"`, `query "k" = "v"` and
/// a property.
fn equals(line: &Laid<'_>) -> Option<usize> {
    let aligned = match line.block()? {
        Block::Endpoint => line.tokens[0].is("set"),
        Block::Request | Block::Properties => true,
        _ => false,
    };
    if !aligned || line.starts_here != 1 {
        return None;
    }
    line.tokens
        .iter()
        .position(|t| t.kind == Kind::Op && t.is("="))
        .filter(|&at| at > 0)
}

/// Widens the space before the token `at` picks on each line, so that those
/// tokens start in one column, one space after the widest text before them.
fn align_token(run: &mut [Laid<'_>], at: fn(&Laid<'_>) -> Option<usize>) {
    let points: Vec<(usize, usize)> = run
        .iter()
        .enumerate()
        .filter_map(|(i, line)| at(line).map(|token| (i, token)))
        .collect();
    let Some(column) = points
        .iter()
        .map(|&(i, token)| run[i].end_before(token))
        .max()
    else {
        return;
    };
    for (i, token) in points {
        run[i].gaps[token] = column + 1 - run[i].end_before(token);
    }
}

/// Trailing comments start two spaces after the run's widest commented line.
fn align_comments(run: &mut [Laid<'_>]) {
    let Some(column) = run
        .iter()
        .filter(|line| line.comment.is_some())
        .map(Laid::code_width)
        .max()
    else {
        return;
    };
    for line in run.iter_mut().filter(|line| line.comment.is_some()) {
        line.comment_gap = column + 2 - line.code_width();
    }
}

/// The lines, with comment lines indented and blank lines kept where the
/// author had them (at most one) but for the file's ends and brackets' insides.
fn assemble(laid: &[Laid<'_>]) -> String {
    let next = next_code(laid);
    let mut out = String::new();
    let mut blank_pending = false;
    let mut after_open = true;
    for (i, line) in laid.iter().enumerate() {
        if line.role == Role::Blank {
            blank_pending = true;
            continue;
        }
        if blank_pending && !after_open && line.role != Role::Closer {
            out.push('\n');
        }
        blank_pending = false;
        after_open = line.opens_last;
        if line.role == Role::Comment {
            let indent = match next[i].map(|n| &laid[n]) {
                Some(next) if next.role != Role::Closer => next.indent,
                _ => line.indent,
            };
            out.push_str(
                &Laid {
                    indent,
                    comment: line.comment,
                    ..Laid::blank()
                }
                .render(),
            );
        } else {
            out.push_str(&line.render());
        }
        out.push('\n');
    }
    out
}
