//! `pipec ddl FILE [--dialect hive|spark|trino] [--table NAME] [--data-dir DIR]`

use crate::profile::{Profile, ProfileEnvironment};
use crate::{report, Outcome};
use pipec_compiler::ddl::{self, DdlOptions, Dialect};
use pipec_compiler::{compile, Source};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DdlArgs {
    /// The pipeline file.
    file: PathBuf,
    #[arg(long, value_enum, default_value_t = DialectArg::Hive)]
    dialect: DialectArg,
    /// Only this table (`name` or `database.name`).
    #[arg(long)]
    table: Option<String>,
    /// Where relative sink paths resolve, for `LOCATION`, as for `pipec run`.
    #[arg(long, env = "PIPEC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A deployment profile (data_dir, env).
    #[arg(long)]
    profile: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DialectArg {
    Hive,
    Spark,
    Trino,
}

pub fn run(args: DdlArgs) -> Outcome {
    let profile = match &args.profile {
        Some(path) => match Profile::load(path) {
            Ok(profile) => profile,
            Err(message) => {
                eprintln!("error: {message}");
                return Outcome::Environment;
            }
        },
        None => Profile::default(),
    };
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read `{}`: {error}", args.file.display());
            return Outcome::Environment;
        }
    };
    let source = Source::new(args.file.display().to_string(), text);
    let plan = match compile(&source, &ProfileEnvironment { profile: &profile }) {
        Ok(checked) => checked.plan,
        Err(diagnostics) => {
            report::print(&source, &diagnostics);
            return Outcome::InputErrors;
        }
    };
    let data_dir = args
        .data_dir
        .or(profile.data_dir)
        .unwrap_or_else(|| PathBuf::from("data"));
    let data_root = std::path::absolute(&data_dir).unwrap_or(data_dir);
    let dialect = match args.dialect {
        DialectArg::Hive => Dialect::Hive,
        DialectArg::Spark => Dialect::Spark,
        DialectArg::Trino => Dialect::Trino,
    };
    let options = DdlOptions {
        data_root: data_root.display().to_string(),
    };
    match ddl::generate(&plan, dialect, &options, args.table.as_deref()) {
        Ok(text) => {
            print!("{text}");
            Outcome::Success
        }
        Err(error) => {
            eprintln!("error: {error}");
            Outcome::InputErrors
        }
    }
}
