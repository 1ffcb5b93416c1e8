//! File names: deterministic from what a file holds, so a replay after a
//! crash writes the same names and never a second copy.

use std::fmt::Write;

/// What one file holds: a contiguous offset range of one Kafka partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKey<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    /// Short id of the Kafka cluster the offsets belong to: offsets restart
    /// on a new cluster (an embedded broker restarts empty), names must not.
    pub cluster: &'a str,
}

impl FileKey<'_> {
    /// `part-events-000-00000000000000000100-00000000000000000199-c1a2b3c4.parquet`:
    /// zero-padded so that names sort by offset.
    pub fn file_name(&self) -> String {
        format!(
            "part-{}-{:03}-{:020}-{:020}-{}.parquet",
            sanitize(self.topic),
            self.partition,
            self.first_offset,
            self.last_offset,
            self.cluster
        )
    }
}

impl FileKey<'_> {
    /// The name of a file still being written, whose last offset is not
    /// known yet: `part-events-000-00000000000000000100-open-c1a2b3c4.parquet`.
    /// Only ever used hidden ([`pending_name`]); the commit renames the file
    /// to its [`FileKey::file_name`].
    pub fn open_name(&self) -> String {
        format!(
            "part-{}-{:03}-{:020}-open-{}.parquet",
            sanitize(self.topic),
            self.partition,
            self.first_offset,
            self.cluster
        )
    }
}

impl FileKey<'_> {
    /// A Delta table's data file: `part-events-000-00000000000000000100-c1a2b3c4-<uuid>.parquet`.
    /// Not hidden (VACUUM skips hidden files, and only the log makes a file
    /// visible); unique, so a zombie's file never replaces the owner's.
    pub fn delta_name(&self) -> String {
        format!(
            "part-{}-{:03}-{:020}-{}-{}.parquet",
            sanitize(self.topic),
            self.partition,
            self.first_offset,
            self.cluster,
            uuid::Uuid::new_v4().simple()
        )
    }
}

/// The hidden name a file is written under before its checkpoint commits it.
/// A leading `.` hides it from Spark, Hive, Trino and DataFusion alike, and
/// the suffix keeps it from matching `*.parquet`. The writer's claim
/// `generation` keeps two workers that read the same offsets (a zombie and
/// the partition's new owner) from ever writing the same object.
pub fn pending_name(final_name: &str, generation: u64) -> String {
    format!(".{final_name}.g{generation}.pending")
}

/// The prefix, in the sink's data and dead-letter stores, below which a
/// Kafka partition's hidden files are written: a claim lists only what
/// its partition left, never the table (at 100k files a listing of the
/// table outlasts `max.poll.interval.ms`). The leading `.` hides the whole
/// tree from Spark, Hive, Trino, DataFusion and DuckDB's globs.
pub fn staging_prefix(topic: &str, partition: i32) -> String {
    format!("{STAGING}/{}-{partition:03}", sanitize(topic))
}

/// The top of every partition's [`staging_prefix`].
pub const STAGING: &str = ".pipec-staging";

/// Where a file to be made visible as `visible` (a path in the store) is
/// written first: below the partition's [`staging_prefix`], in the same
/// partition directories, under its [`pending_name`].
pub fn staged_path(topic: &str, partition: i32, visible: &str, generation: u64) -> String {
    let (directory, name) = match visible.rsplit_once('/') {
        Some((directory, name)) => (Some(directory), name),
        None => (None, visible),
    };
    let pending = pending_name(name, generation);
    match directory {
        Some(directory) => format!("{}/{directory}/{pending}", staging_prefix(topic, partition)),
        None => format!("{}/{pending}", staging_prefix(topic, partition)),
    }
}

/// A hidden file of a write, or the staging file of one (`object_store`
/// writes `name#N` first, then renames).
pub fn is_pending(name: &str) -> bool {
    name.starts_with('.') && name.contains(".parquet.") && name.contains(".pending")
}

/// The claim generation in a hidden name ([`pending_name`]); 0 for names
/// written before generations existed.
pub fn generation_of(name: &str) -> u64 {
    let Some(rest) = name.split(".parquet.g").nth(1) else {
        return 0;
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

/// The first offset in a file name written by [`FileKey::file_name`] (or
/// [`FileKey::delta_name`]) of the topic's `partition`.
pub fn first_offset_of(name: &str, topic: &str, partition: i32) -> Option<i64> {
    let prefix = format!("part-{}-{partition:03}-", sanitize(topic));
    let rest = name.strip_prefix(&prefix)?;
    rest.get(..20)?.parse().ok()
}

/// Topic names may hold `.`; keep names to one dot before the extension.
fn sanitize(topic: &str) -> String {
    topic.replace('.', "_")
}

/// The value of a Hive-style `column=value` directory, escaped as Hive does.
pub fn partition_value(value: Option<&str>) -> String {
    let Some(value) = value else {
        return "__HIVE_DEFAULT_PARTITION__".to_string();
    };
    if value.is_empty() {
        return "__HIVE_DEFAULT_PARTITION__".to_string();
    }
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        // Hive's FileUtils.escapePathName set, plus anything non-printable.
        if c.is_control() || "\"#%'*/:=?\\\x7f{[]^".contains(c) {
            for byte in c.to_string().bytes() {
                let _ = write!(out, "%{byte:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FileKey<'static> {
        FileKey {
            topic: "game.events",
            partition: 2,
            first_offset: 100,
            last_offset: 199,
            cluster: "c1a2b3c4",
        }
    }

    #[test]
    fn first_offsets_are_read_back_from_names() {
        let key = key();
        assert_eq!(
            first_offset_of(&key.file_name(), "game.events", 2),
            Some(100)
        );
        assert_eq!(
            first_offset_of(&key.delta_name(), "game.events", 2),
            Some(100)
        );
        assert_eq!(first_offset_of(&key.file_name(), "game.events", 3), None);
        assert_eq!(first_offset_of(&key.file_name(), "other", 2), None);
    }

    #[test]
    fn names_are_deterministic_and_sortable() {
        let name = key().file_name();
        assert_eq!(
            name,
            "part-game_events-002-00000000000000000100-00000000000000000199-c1a2b3c4.parquet"
        );
        assert_eq!(key().file_name(), name);
        let later = FileKey {
            first_offset: 200,
            last_offset: 250,
            ..key()
        }
        .file_name();
        assert!(later > name);
    }

    #[test]
    fn a_staged_file_is_below_its_partitions_hidden_prefix() {
        assert_eq!(
            staged_path("game.events", 2, "date=2026-12-07/part-x.parquet", 3),
            ".pipec-staging/game_events-002/date=2026-12-07/.part-x.parquet.g3.pending"
        );
        assert_eq!(
            staged_path("t", 0, "part-x.parquet", 0),
            ".pipec-staging/t-000/.part-x.parquet.g0.pending"
        );
        assert!(staged_path("t", 1, "part-x.parquet", 0).starts_with(&staging_prefix("t", 1)));
        assert!(!staged_path("t", 10, "p.parquet", 0)
            .starts_with(&format!("{}/", staging_prefix("t", 1))));
    }

    #[test]
    fn pending_files_are_hidden_and_not_parquet() {
        let pending = pending_name("part-x.parquet", 1);
        assert!(pending.starts_with('.'));
        assert!(!pending.ends_with(".parquet"));
        assert!(is_pending(&pending));
        assert!(is_pending(&format!("{pending}#3")));
        assert_eq!(generation_of(&pending), 1);
        assert_eq!(generation_of(&format!("{pending}#3")), 1);
        assert_eq!(generation_of(&pending_name("part-x.parquet", 42)), 42);
        assert_eq!(generation_of(".part-x.parquet.pending"), 0);
        assert!(!is_pending("part-x.parquet"));
    }

    #[test]
    fn partition_values_are_escaped_like_hive() {
        assert_eq!(partition_value(Some("2020-08-02")), "2020-08-02");
        assert_eq!(partition_value(Some("a/b=c")), "a%2Fb%3Dc");
        assert_eq!(partition_value(Some("50%")), "50%25");
        assert_eq!(partition_value(None), "__HIVE_DEFAULT_PARTITION__");
        assert_eq!(partition_value(Some("")), "__HIVE_DEFAULT_PARTITION__");
    }
}
