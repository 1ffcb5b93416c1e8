//! `pipec fmt FILE... [--check]`

use crate::{report, Outcome};
use pipec_compiler::format::format;
use pipec_compiler::Source;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct FmtArgs {
    /// Pipeline files to rewrite in pipec's layout; `-` reads standard input
    /// and writes the result to standard output.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Change nothing: print a diff for each file that is not formatted, and
    /// exit 1 if there is one.
    #[arg(long)]
    check: bool,
}

pub fn run(args: FmtArgs) -> Outcome {
    let mut outcome = Outcome::Success;
    for path in &args.files {
        let result = one(path, args.check);
        outcome = match (outcome, result) {
            (Outcome::Environment, _) | (_, Outcome::Environment) => Outcome::Environment,
            (Outcome::InputErrors, _) | (_, Outcome::InputErrors) => Outcome::InputErrors,
            _ => Outcome::Success,
        };
    }
    outcome
}

fn one(path: &Path, check: bool) -> Outcome {
    let stdin = path == Path::new("-");
    let name = if stdin {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    let text = match read(path, stdin) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read `{name}`: {error}");
            return Outcome::Environment;
        }
    };
    let source = Source::new(name.clone(), text);
    let formatted = match format(&source) {
        Ok(formatted) => formatted,
        Err(diagnostics) => {
            report::print(&source, &diagnostics);
            return Outcome::InputErrors;
        }
    };
    if check {
        if formatted == source.text {
            return Outcome::Success;
        }
        print!("{}", diff(&name, &source.text, &formatted));
        return Outcome::InputErrors;
    }
    if stdin {
        let mut stdout = std::io::stdout().lock();
        return match stdout
            .write_all(formatted.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => Outcome::Success,
            Err(error) => {
                eprintln!("error: cannot write the result: {error}");
                Outcome::Environment
            }
        };
    }
    if formatted == source.text {
        return Outcome::Success;
    }
    match std::fs::write(path, formatted) {
        Ok(()) => {
            eprintln!("formatted {name}");
            Outcome::Success
        }
        Err(error) => {
            eprintln!("error: cannot write `{name}`: {error}");
            Outcome::Environment
        }
    }
}

fn read(path: &Path, stdin: bool) -> std::io::Result<String> {
    if stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}

/// What formatting would change, as `diff -u` prints it.
fn diff(name: &str, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(name, &format!("{name} (formatted)"))
        .to_string()
}
