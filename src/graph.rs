//! `pipec graph FILE [--format svg|mermaid|dot]`

use crate::loaded::load;
use crate::Outcome;
use pipec_compiler::graph::{graph, to_dot, to_mermaid, to_svg, SvgStyle};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct GraphArgs {
    /// The pipeline file.
    file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
    /// A deployment profile (env).
    #[arg(long)]
    profile: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A Mermaid flowchart, which GitHub draws in Markdown.
    Mermaid,
    /// Graphviz DOT.
    Dot,
    /// A picture, laid out by pipec itself (no Graphviz needed).
    Svg,
}

pub fn run(args: GraphArgs) -> Outcome {
    let loaded = match load(&args.file, args.profile.as_deref()) {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    let drawn = graph(&loaded.plan);
    print!(
        "{}",
        match args.format {
            Format::Mermaid => to_mermaid(&drawn),
            Format::Dot => to_dot(&drawn),
            Format::Svg => to_svg(&drawn, SvgStyle::Static),
        }
    );
    Outcome::Success
}
