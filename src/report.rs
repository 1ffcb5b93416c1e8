//! Printing a file's diagnostics for people.

use pipec_compiler::render::{render, Style};
use pipec_compiler::{Diagnostics, Source};
use std::io::{IsTerminal, Write};

/// How `check`, `test` and `diff` report: `--format text|json`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people, on standard output (diagnostics on standard error).
    Text,
    /// One JSON document on standard output, for scripts and CI.
    Json,
}

/// Colour when stderr is a terminal and `NO_COLOR` is unset.
pub fn style() -> Style {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Style::Color
    } else {
        Style::Plain
    }
}

pub fn print(source: &Source, diagnostics: &Diagnostics) {
    let style = style();
    let mut stderr = std::io::stderr().lock();
    for diagnostic in diagnostics.iter() {
        let _ = writeln!(stderr, "{}", render(source, diagnostic, style));
    }
}
