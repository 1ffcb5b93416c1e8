//! The pipec compiler: pipeline text → AST → checked plan → DDL.
//!
//! Each stage is one function from one type to the next (see
//! `ARCHITECTURE.md`), so the CLI and the tests can stop after any of them.
//! Nothing here does I/O: the caller reads files and hands in the
//! environment.

pub mod ast;
pub mod check;
pub mod ddl;
pub mod diagnostic;
pub mod evolve;
pub mod expr;
pub mod format;
pub mod graph;
pub mod hive;
pub mod ide;
pub mod parse;
pub mod plan;
pub mod render;
pub mod source;
pub mod test_plan;
pub mod time;
pub mod types;

pub use check::{check, CheckedPlan, Environment};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Severity};
pub use parse::parse;
pub use plan::Plan;
pub use source::{Source, Span};

/// Parse and check in one step.
pub fn compile(source: &Source, env: &dyn Environment) -> Result<CheckedPlan, Diagnostics> {
    let ast = parse(source)?;
    check(source, &ast, env)
}
