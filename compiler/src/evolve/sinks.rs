//! Sinks, by name: where they write and keep their offsets, how they lay
//! out and fill their files, and which rows they keep.

use super::columns::{columns, partitioning_changed, WrittenLayout};
use super::schema::Explained;
use super::{Change, Locate};
use crate::ast::SinkStmt;
use crate::diagnostic::Code;
use crate::plan::{Partitioning, Plan, Sink, Trigger};

pub(crate) fn compare(
    old: &Plan,
    new: &Plan,
    locate: Locate,
    explained: &Explained,
) -> Vec<Change> {
    let mut changes = Vec::new();
    for sink in &new.sinks {
        let name = &sink.name;
        let Some(before) = old.sink_named(name) else {
            changes.push(Change::new(
                Code::DeclarationAdded,
                locate.sink_name(name),
                format!(
                    "sink `{name}` added: it writes topic `{}` from its start (as much as Kafka keeps) into `{}`",
                    sink.topic.name,
                    sink.path.as_str()
                ),
            ));
            continue;
        };
        changes.extend(compare_sink(before, sink, locate, explained));
    }
    for before in &old.sinks {
        if new.sink_named(&before.name).is_none() {
            changes.push(Change::new(
                Code::DeclarationRemoved,
                locate.topic_name(&before.topic.name),
                format!(
                    "sink `{}` removed: its files under `{}` and its checkpoint stay, and nothing adds to them",
                    before.name,
                    before.path.as_str()
                ),
            ));
        }
    }
    changes
}

fn compare_sink(before: &Sink, sink: &Sink, locate: Locate, explained: &Explained) -> Vec<Change> {
    let name = &sink.name;
    let mut changes = Vec::new();
    if let Some(change) = starts_over(before, sink, locate) {
        changes.push(change);
    }
    // A new path starts empty: no file there to disagree with.
    if before.path == sink.path {
        if before.partitioning != sink.partitioning {
            changes.push(partitioning_changed(
                sink,
                locate,
                &partitioning(before.partitioning.as_ref()),
                &partitioning(sink.partitioning.as_ref()),
            ));
        }
        let schema = locate
            .topic_schema(&sink.topic.name)
            .unwrap_or_default()
            .to_string();
        // A column moving into or out of the partition directories is
        // part of the partitioning change.
        let moved: Vec<&str> = before
            .partitioning
            .iter()
            .chain(&sink.partitioning)
            .filter(|_| before.partitioning != sink.partitioning)
            .map(|p| p.column().0)
            .collect();
        let explained = |column: &str| {
            moved.contains(&column) || explained.contains(&(schema.clone(), column.to_string()))
        };
        changes.extend(columns(
            &WrittenLayout::of_sink(before),
            sink,
            locate,
            &explained,
        ));
    }
    let filter = |s: &Sink| {
        s.filter.as_ref().map_or("none".to_string(), |f| {
            format!("`{}`", crate::graph::expression(f))
        })
    };
    let (was, now) = (filter(before), filter(sink));
    if was != now {
        changes.push(Change::new(
            Code::FilterChanged,
            locate.sink_statement(name, |s| matches!(s, SinkStmt::Where(_))),
            format!("sink `{name}` now keeps rows by {now} (was {was}): files already written keep what the old filter kept; new files follow the new one"),
        ));
    }
    if before.trigger != sink.trigger {
        changes.push(Change::new(
            Code::TriggerChanged,
            locate.sink_statement(name, |s| matches!(s, SinkStmt::Trigger(_))),
            format!(
                "sink `{name}` now writes {} (was {}): only when files are written changes",
                trigger(&sink.trigger),
                trigger(&before.trigger)
            ),
        ));
    }
    if before.compression != sink.compression {
        changes.push(Change::new(
            Code::CompressionChanged,
            locate.sink_statement(name, |s| matches!(s, SinkStmt::Compression(_))),
            format!(
                "sink `{name}` now compresses with {} (was {}): files already written stay {}, and readers take both",
                sink.compression.name(),
                before.compression.name(),
                before.compression.name()
            ),
        ));
    }
    changes
}

/// A sink whose path, checkpoint or topic moved: what it writes again, or
/// no longer sees.
fn starts_over(before: &Sink, sink: &Sink, locate: Locate) -> Option<Change> {
    let name = &sink.name;
    let offsets = |sink: &Sink| {
        sink.checkpoint.as_ref().map_or_else(
            || format!("{} (its table's log)", sink.path.as_str()),
            |c| c.as_str().to_string(),
        )
    };
    let (path, checkpoint) = (sink.path.as_str(), offsets(sink));
    let (old_path, old_checkpoint) = (before.path.as_str(), offsets(before));
    let topic = &sink.topic.name;
    let tables =
        "tables over the sink keep their old LOCATION until you create them again (`pipec ddl`)";
    if before.topic.name != sink.topic.name {
        return Some(
            Change::new(
                Code::SinkStartsOver,
                locate.sink_statement(name, |s| matches!(s, SinkStmt::From(_))),
                format!(
                    "sink `{name}` now reads topic `{topic}` (was `{}`): its checkpoint at `{checkpoint}` holds the offsets of `{}`",
                    before.topic.name, before.topic.name
                ),
            )
            .help("give it a new `path` and `checkpoint`: it then writes the new topic from its start"),
        );
    }
    if before.format.keyword() != sink.format.keyword() {
        let (old, new) = (before.format.keyword(), sink.format.keyword());
        return Some(
            Change::new(
                Code::SinkStartsOver,
                locate.sink_statement(name, |s| matches!(s, SinkStmt::Format(_))),
                format!(
                    "sink `{name}` now writes `{new}` (was `{old}`): it keeps its offsets elsewhere, so it writes topic `{topic}` again from its start"
                ),
            )
            .help(format!(
                "give it a new `path` too: a {new} table cannot share `{old_path}` with the {old} files already there"
            )),
        );
    }
    let moved_path = before.path != sink.path;
    let moved_checkpoint = before.checkpoint != sink.checkpoint;
    let change = match (moved_path, moved_checkpoint) {
        (false, false) => return None,
        (true, true) => Change::new(
            Code::SinkStartsOver,
            locate.sink_statement(name, |s| matches!(s, SinkStmt::Path(_))),
            format!(
                "sink `{name}` starts over: with a new path and checkpoint it writes topic `{topic}` again from its start (as much as Kafka keeps) into `{path}`; the files under `{old_path}` stay"
            ),
        )
        .help(tables),
        (true, false) => Change::new(
            Code::SinkStartsOver,
            locate.sink_statement(name, |s| matches!(s, SinkStmt::Path(_))),
            format!(
                "sink `{name}` now writes to `{path}` (was `{old_path}`): the files already written stay under `{old_path}`, and the checkpoint at `{checkpoint}` keeps the sink from writing them again, so `{path}` starts with new events only"
            ),
        )
        .help(format!(
            "stop the sink and move `{old_path}` to `{path}` first, or move the checkpoint too to write the topic again from its start; {tables}"
        )),
        (false, true) => Change::new(
            Code::SinkStartsOver,
            locate.sink_statement(name, |s| matches!(s, SinkStmt::Checkpoint(_))),
            format!(
                "sink `{name}` now keeps its offsets in `{checkpoint}` (was `{old_checkpoint}`): it reads topic `{topic}` again from its start and writes again what `{path}` already holds: duplicates"
            ),
        )
        .help(format!(
            "stop the sink and move `{old_checkpoint}` to `{checkpoint}` first"
        )),
    };
    Some(change)
}

fn partitioning(partitioning: Option<&Partitioning>) -> String {
    match partitioning {
        None => "nothing".into(),
        Some(Partitioning::Column { column, .. }) => format!("`{column}`"),
        Some(Partitioning::Date { source, column }) => format!("`date({source}) as {column}`"),
    }
}

fn trigger(trigger: &Trigger) -> String {
    format!("`{trigger}`")
}
