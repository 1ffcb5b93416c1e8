//! `format` over every pipeline in the repository and over those pipelines
//! with their whitespace scrambled: a file that does not parse is refused,
//! formatting twice is formatting once, and the formatted file means what
//! the original meant (the checker says the same things about both).

use pipec_compiler::format::format;
use pipec_compiler::{compile, parse, Source};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The checkout under test: cargo's run-time `CARGO_MANIFEST_DIR`, not the
/// one compiled in, because a test binary built in another checkout that
/// shares the target directory is reused when its sources are unchanged.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        manifest.join("..")
    })
}

fn pipe_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            pipe_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "pipe") {
            out.push(path);
        }
    }
}

/// Every pipeline and fixture in the repository: name and text.
fn repository_files() -> &'static [(String, String)] {
    static FILES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut paths = Vec::new();
        for dir in ["pipelines", "examples", "tests/pipelines", "tests/fixtures"] {
            pipe_files(&root().join(dir), &mut paths);
        }
        assert!(paths.len() > 50, "found only {paths:?}");
        paths
            .into_iter()
            .map(|path| {
                let name = path.strip_prefix(root()).unwrap().display().to_string();
                (name, std::fs::read_to_string(&path).unwrap())
            })
            .collect()
    })
}

/// The files that parse: the seeds for scrambling.
fn parsing_files() -> &'static [(String, String)] {
    static FILES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        repository_files()
            .iter()
            .filter(|(name, text)| parse(&Source::new(name.clone(), text.clone())).is_ok())
            .cloned()
            .collect()
    })
}

/// What the checker says about a file, without where: spans move.
fn verdict(name: &str, text: &str) -> Vec<String> {
    let environment = BTreeMap::from([
        ("PIPEC_FIXTURE_ROOT".to_string(), "/srv/pipec".to_string()),
        ("SHOP_API_TOKEN".to_string(), "secret".to_string()),
    ]);
    let diagnostics = match compile(&Source::new(name, text), &environment) {
        Ok(checked) => checked.warnings,
        Err(diagnostics) => diagnostics,
    };
    diagnostics
        .iter()
        .map(|d| format!("{:?} {} {}", d.severity, d.code.as_str(), d.message))
        .collect()
}

/// Formats `text` and checks the three properties; returns the result.
fn formats_faithfully(name: &str, text: &str) -> String {
    let once = format(&Source::new(name, text))
        .unwrap_or_else(|d| panic!("{name} parses but is refused: {d:?}\n{text}"));
    let twice = format(&Source::new(name, once.as_str())).expect("a formatted file parses");
    assert_eq!(twice, once, "{name}: formatting again changed it");
    assert_eq!(
        verdict(name, &once),
        verdict(name, text),
        "{name}: the checker reads the formatted file differently\n--- before\n{text}\n--- after\n{once}"
    );
    once
}

#[test]
fn every_file_in_the_repository_formats_or_is_refused() {
    let (mut formatted, mut refused) = (0, 0);
    for (name, text) in repository_files() {
        let source = Source::new(name.clone(), text.clone());
        match parse(&source) {
            Ok(_) => {
                formats_faithfully(name, text);
                formatted += 1;
            }
            Err(expected) => {
                let diagnostics = format(&source).expect_err("a file that does not parse");
                assert_eq!(
                    format!("{diagnostics:?}"),
                    format!("{expected:?}"),
                    "{name}"
                );
                refused += 1;
            }
        }
    }
    assert!(formatted > 50 && refused > 5, "{formatted} {refused}");
}

#[test]
fn the_shipped_pipelines_are_canonical() {
    for (name, text) in repository_files() {
        if name.starts_with("pipelines/") || name.starts_with("examples/") {
            assert_eq!(&formats_faithfully(name, text), text, "{name}");
        }
    }
}

/// A line cut into code, the whitespace between its tokens, and its comment.
/// Strings, backtick names and comments are never cut.
#[derive(Debug)]
enum Piece<'a> {
    Code(&'a str),
    Space,
    Comment(&'a str),
}

fn pieces(line: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    let mut code_start = None;
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\r' => {
                if let Some(start) = code_start.take() {
                    out.push(Piece::Code(&line[start..i]));
                }
                if !matches!(out.last(), Some(Piece::Space)) {
                    out.push(Piece::Space);
                }
            }
            '#' => {
                if let Some(start) = code_start.take() {
                    out.push(Piece::Code(&line[start..i]));
                }
                out.push(Piece::Comment(line[i..].trim_end()));
                return out;
            }
            _ => {
                code_start.get_or_insert(i);
                let close = match c {
                    '"' => Some('"'),
                    '`' => Some('`'),
                    _ => None,
                };
                if let Some(close) = close {
                    while let Some((_, c)) = chars.next() {
                        if c == '\\' && close == '"' {
                            chars.next();
                        } else if c == close {
                            break;
                        }
                    }
                }
            }
        }
    }
    if let Some(start) = code_start {
        out.push(Piece::Code(&line[start..]));
    }
    out
}

/// Characters next to which whitespace may vanish without two tokens
/// running into one.
fn stands_alone(c: Option<char>) -> bool {
    c.is_some_and(|c| "{}[](),:".contains(c))
}

/// Random whitespace: `dice` decides, cycling.
struct Scrambler<'a> {
    dice: &'a [u8],
    at: usize,
}

impl Scrambler<'_> {
    fn roll(&mut self, sides: u8) -> u8 {
        let value = self.dice[self.at % self.dice.len()];
        self.at += 1;
        value % sides
    }

    fn spaces(&mut self, at_least: u8) -> String {
        let count = at_least + self.roll(4);
        (0..count)
            .map(|_| if self.roll(5) == 0 { '\t' } else { ' ' })
            .collect()
    }

    /// Moves tokens apart and together and re-indents, keeping every line
    /// break, comment and token: the canonical layout must come back.
    fn respace(&mut self, text: &str) -> String {
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            let (body, newline) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            let pieces = pieces(body);
            out.push_str(&self.spaces(0));
            for (i, piece) in pieces.iter().enumerate() {
                match piece {
                    Piece::Code(code) => out.push_str(code),
                    Piece::Comment(comment) => out.push_str(comment),
                    Piece::Space if i == 0 => {}
                    Piece::Space => {
                        let before = out.chars().last();
                        let after = match pieces.get(i + 1) {
                            Some(Piece::Code(code)) => code.chars().next(),
                            _ => None,
                        };
                        let may_vanish = stands_alone(before) || stands_alone(after);
                        let at_least = u8::from(!may_vanish || self.roll(2) == 0);
                        out.push_str(&self.spaces(at_least));
                    }
                }
            }
            if newline == "\n" {
                if self.roll(4) == 0 {
                    out.push('\r');
                }
                out.push('\n');
            }
        }
        out
    }

    /// Adds blank lines, comments of their own and comments at line ends.
    fn annotate(&mut self, text: &str) -> String {
        let mut out = String::new();
        for line in text.lines() {
            match self.roll(8) {
                0 => out.push_str("\n\n"),
                1 => out.push_str("   # a note of its own\n"),
                _ => {}
            }
            out.push_str(line);
            if self.roll(6) == 0 {
                out.push_str(" # at the end");
            }
            out.push('\n');
        }
        out
    }
}

fn seed() -> impl Strategy<Value = (String, String)> {
    prop::sample::select(parsing_files().to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn respaced_files_format_back_to_the_same_layout(
        (name, text) in seed(),
        dice in prop::collection::vec(any::<u8>(), 32..256),
    ) {
        let messy = Scrambler { dice: &dice, at: 0 }.respace(&text);
        let canonical = formats_faithfully(&name, &text);
        prop_assert_eq!(formats_faithfully(&name, &messy), canonical);
    }

    #[test]
    fn annotated_files_format_faithfully(
        (name, text) in seed(),
        dice in prop::collection::vec(any::<u8>(), 32..256),
    ) {
        let mut scrambler = Scrambler { dice: &dice, at: 0 };
        let annotated = scrambler.annotate(&text);
        let messy = scrambler.respace(&annotated);
        let formatted = formats_faithfully(&name, &messy);
        let comments = |text: &str| text.matches("# a note of its own").count()
            + text.matches("# at the end").count();
        prop_assert_eq!(comments(&formatted), comments(&annotated));
    }
}
