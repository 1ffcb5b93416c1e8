//! What `run`, `query` and `ddl` start from: a pipeline file, checked, with
//! its deployment profile.

use crate::profile::{Profile, ProfileEnvironment};
use crate::{report, Outcome};
use pipec_compiler::{compile, Plan, Source};
use std::path::{Path, PathBuf};

pub struct Loaded {
    pub source: Source,
    pub plan: Plan,
    pub profile: Profile,
}

/// Reads the profile and the file and checks the file, printing what is
/// wrong (and any warnings); `Err` is the outcome to exit with.
pub fn load(file: &Path, profile: Option<&Path>) -> Result<Loaded, Outcome> {
    let profile = match profile {
        Some(path) => Profile::load(path).map_err(|message| environment_error(&message))?,
        None => Profile::default(),
    };
    let text = std::fs::read_to_string(file).map_err(|error| {
        environment_error(&format!("cannot read `{}`: {error}", file.display()))
    })?;
    let source = Source::new(file.display().to_string(), text);
    match compile(&source, &ProfileEnvironment { profile: &profile }) {
        Ok(checked) => {
            report::print(&source, &checked.warnings);
            Ok(Loaded {
                source,
                plan: checked.plan,
                profile,
            })
        }
        Err(diagnostics) => {
            report::print(&source, &diagnostics);
            Err(Outcome::InputErrors)
        }
    }
}

impl Loaded {
    /// `--data-dir` (or `PIPEC_DATA_DIR`), else the profile's, else `./data`.
    pub fn data_dir(&self, flag: Option<PathBuf>) -> PathBuf {
        flag.or(self.profile.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("data"))
    }
}

pub fn environment_error(message: &str) -> Outcome {
    eprintln!("error: {message}");
    Outcome::Environment
}
