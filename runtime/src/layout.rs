//! Where a plan's files live on this machine: relative sink, checkpoint and
//! dead-letter paths resolve against the data directory.

use pipec_compiler::plan::{Location, Plan};
use std::path::{Path, PathBuf};

/// A location made concrete for this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedLocation {
    Local(PathBuf),
    Url(String),
}

impl ResolvedLocation {
    pub fn resolve(location: &Location, data_dir: &Path) -> Self {
        match location {
            Location::Relative(path) => ResolvedLocation::Local(data_dir.join(path)),
            Location::Absolute(path) => ResolvedLocation::Local(PathBuf::from(path)),
            Location::Url(url) => ResolvedLocation::Url(url.clone()),
        }
    }

    /// The location as a URI, as table DDL wants it.
    pub fn to_uri(&self) -> String {
        match self {
            ResolvedLocation::Local(path) => format!("file://{}", path.display()),
            ResolvedLocation::Url(url) => url.clone(),
        }
    }
}

/// Every directory a plan writes, by owner: `(owner, role, location)`.
pub fn directories(plan: &Plan, data_dir: &Path) -> Vec<(String, &'static str, ResolvedLocation)> {
    let mut out = Vec::new();
    for sink in &plan.sinks {
        out.push((
            sink.name.clone(),
            "files",
            ResolvedLocation::resolve(&sink.path, data_dir),
        ));
        out.push((
            sink.name.clone(),
            "checkpoint",
            ResolvedLocation::resolve(&sink.checkpoint, data_dir),
        ));
    }
    out.push((
        "dead_letters".to_string(),
        "files",
        ResolvedLocation::resolve(&plan.dead_letters.path, data_dir),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_data_dir() {
        let data = Path::new("/srv/pipec");
        let rel = ResolvedLocation::resolve(&Location::Relative("sword_purchases".into()), data);
        assert_eq!(
            rel,
            ResolvedLocation::Local(PathBuf::from("/srv/pipec/sword_purchases"))
        );
        assert_eq!(rel.to_uri(), "file:///srv/pipec/sword_purchases");
        let abs = ResolvedLocation::resolve(&Location::Absolute("/tmp/x".into()), data);
        assert_eq!(abs, ResolvedLocation::Local(PathBuf::from("/tmp/x")));
        let url = ResolvedLocation::resolve(&Location::Url("s3://bucket/x".into()), data);
        assert_eq!(url.to_uri(), "s3://bucket/x");
    }
}
