//! Where sinks write: locations, and that no two of them overlap.

use super::Checker;
use crate::ast::StringLit;
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::Location;
use crate::source::Span;

impl Checker<'_> {
    /// A path or URL setting, after environment values are filled in.
    pub(super) fn location(&mut self, literal: &StringLit) -> Option<Location> {
        let value = self.interpolate(literal)?;
        let value = value.trim();
        if value.is_empty() {
            self.report(
                Diagnostic::new(Code::StorageOverlap, literal.span, "empty path")
                    .with_label("files need a directory")
                    .with_help(
                        "give a directory, relative to the data directory, or an `s3://` URL",
                    ),
            );
            return None;
        }
        Some(match value.split_once("://") {
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                Location::Url(value.trim_end_matches('/').to_string())
            }
            _ if value.starts_with('/') => Location::Absolute(normalize(value)),
            _ => Location::Relative(normalize(value)),
        })
    }

    /// A location a sink writes: a local path, or a URL of a store the
    /// runtime can open (`check` refuses what `run` would).
    pub(super) fn written_location(&mut self, literal: &StringLit) -> Option<Location> {
        let location = self.location(literal)?;
        let Location::Url(value) = &location else {
            return Some(location);
        };
        // `s3://` alone was trimmed to `s3:`.
        let (scheme, rest) = value
            .split_once("://")
            .unwrap_or((value.trim_end_matches(':'), ""));
        let scheme = scheme.to_string();
        let rest = rest.to_string();
        let value = literal.value.clone();
        let lower = scheme.to_ascii_lowercase();
        if !WRITABLE_SCHEMES.contains(&lower.as_str()) {
            let help = crate::diagnostic::did_you_mean(&lower, WRITABLE_SCHEMES.iter().copied())
                .map(|d| format!("{d} Sinks write to local paths and {SCHEME_LIST}"))
                .unwrap_or_else(|| format!("sinks write to local paths and {SCHEME_LIST}"));
            self.report(
                Diagnostic::new(
                    Code::UnknownValue,
                    literal.span,
                    format!("pipec cannot write to `{scheme}://` locations"),
                )
                .with_label("not a store pipec writes")
                .with_help(help),
            );
            return None;
        }
        if rest.trim_matches('/').is_empty() {
            self.report(
                Diagnostic::new(
                    Code::UnknownValue,
                    literal.span,
                    format!("`{value}` names no bucket or container"),
                )
                .with_label("a URL needs a bucket")
                .with_help(format!("for example `{scheme}://my-bucket/events`")),
            );
            return None;
        }
        Some(location)
    }

    /// No two sinks (nor the dead-letter table) share a directory, nor does
    /// one live inside another's: a reader of one table would read the
    /// other's files, and two checkpoints in one place corrupt each other.
    pub(super) fn check_storage(&mut self) {
        let places = std::mem::take(&mut self.places);
        for (i, j) in overlapping(&places) {
            let (place, other) = (&places[i], &places[j]);
            {
                let Some(relation) = relation(&place.location, &other.location) else {
                    continue;
                };
                let (owner, role) = (&place.owner, place.role);
                let (other_owner, other_role) = (&other.owner, other.role);
                let how = match relation {
                    Relation::Same => "is the same as",
                    Relation::Inside => "is inside",
                    Relation::Contains => "contains",
                };
                let message = format!(
                    "{owner}'s {role} directory {how} {other_owner}'s {other_role} directory"
                );
                // The dead-letter default has no span: point at the sink.
                let (primary, secondary) = if place.span == Span::default() {
                    (other.span, None)
                } else {
                    (
                        place.span,
                        Some(other.span).filter(|s| *s != Span::default()),
                    )
                };
                let mut diagnostic = Diagnostic::new(Code::StorageOverlap, primary, message)
                    .with_label(format!("`{}`", place.location.as_str()))
                    .with_help("give every sink its own path and its own checkpoint directory, side by side");
                if let Some(secondary) = secondary {
                    diagnostic = diagnostic
                        .with_secondary(secondary, format!("{other_owner}'s {other_role}"));
                }
                self.report(diagnostic);
            }
        }
    }
}

/// The URL schemes the runtime's storage opens (`runtime::storage`): S3 and
/// S3-compatible servers, Google Cloud Storage, Azure, and `file://`.
const WRITABLE_SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "file"];
const SCHEME_LIST: &str = "`s3://`, `gs://`, `az://` (or `abfs://`) and `file://` URLs";

/// A directory the pipeline writes, and who writes it.
pub(super) struct Place {
    pub owner: String,
    pub role: &'static str,
    pub location: Location,
    pub span: Span,
}

/// The pairs `(later, earlier)` of places where one directory is or holds
/// the other, in declaration order. Each place looks up only its own
/// ancestors (one map lookup per path component), so a file with thousands
/// of sinks is checked in linear time, not by comparing every pair.
fn overlapping(places: &[Place]) -> Vec<(usize, usize)> {
    use std::collections::{BTreeSet, HashMap};
    fn key(place: &Place) -> (std::mem::Discriminant<Location>, Vec<&str>) {
        (
            std::mem::discriminant(&place.location),
            components(place.location.as_str()),
        )
    }
    let mut at: HashMap<_, Vec<usize>> = HashMap::new();
    for (index, place) in places.iter().enumerate() {
        at.entry(key(place)).or_default().push(index);
    }
    let mut pairs = BTreeSet::new();
    for (index, place) in places.iter().enumerate() {
        let (kind, parts) = key(place);
        for depth in 0..=parts.len() {
            let ancestor = (kind, parts[..depth].to_vec());
            for &other in at.get(&ancestor).into_iter().flatten() {
                if other != index {
                    pairs.insert((index.max(other), index.min(other)));
                }
            }
        }
    }
    pairs.into_iter().collect()
}

enum Relation {
    Same,
    /// The first is inside the second.
    Inside,
    Contains,
}

fn relation(a: &Location, b: &Location) -> Option<Relation> {
    let same_kind = std::mem::discriminant(a) == std::mem::discriminant(b);
    if !same_kind {
        return None;
    }
    let (a, b) = (components(a.as_str()), components(b.as_str()));
    if a == b {
        Some(Relation::Same)
    } else if a.starts_with(&b) {
        Some(Relation::Inside)
    } else if b.starts_with(&a) {
        Some(Relation::Contains)
    } else {
        None
    }
}

fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// `./a//b/../c/` → `a/c`: lexical, so that equal directories compare equal.
fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_lexically() {
        assert_eq!(normalize("./a//b/../c/"), "a/c");
        assert_eq!(normalize("/tmp/../x"), "/x");
        assert_eq!(normalize("../up"), "../up");
        assert_eq!(normalize("."), ".");
    }

    #[test]
    fn relations_compare_components_not_prefixes() {
        let rel = |p: &str| Location::Relative(p.to_string());
        assert!(matches!(
            relation(&rel("out"), &rel("out")),
            Some(Relation::Same)
        ));
        assert!(matches!(
            relation(&rel("out/a"), &rel("out")),
            Some(Relation::Inside)
        ));
        assert!(matches!(
            relation(&rel("out"), &rel("out/a")),
            Some(Relation::Contains)
        ));
        assert!(relation(&rel("output"), &rel("out")).is_none());
        assert!(relation(&rel("out"), &Location::Absolute("/out".into())).is_none());
    }
}
