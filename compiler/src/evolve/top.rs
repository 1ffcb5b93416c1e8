//! Topics, endpoints and tables: added, removed, and what of them changes
//! for producers, clients and engines.

use super::schema::Explained;
use super::{Change, Locate};
use crate::ast::TopicStmt;
use crate::diagnostic::Code;
use crate::plan::Plan;

pub(crate) fn topics(old: &Plan, new: &Plan, locate: Locate) -> Vec<Change> {
    let mut changes = Vec::new();
    for topic in &new.topics {
        let name = &topic.name;
        let Some(before) = old.topics.iter().find(|t| t.name == *name) else {
            changes.push(Change::new(
                Code::DeclarationAdded,
                locate.topic_name(name),
                format!(
                    "topic `{name}` added: pipec creates it with {} partition{} if Kafka lacks it",
                    topic.partitions,
                    if topic.partitions == 1 { "" } else { "s" }
                ),
            ));
            continue;
        };
        if before.partitions != topic.partitions {
            let help = if topic.partitions > before.partitions {
                format!("add them with `kafka-topics.sh --alter --topic {name} --partitions {}`; keyed events then go to other partitions than before", topic.partitions)
            } else {
                "Kafka cannot take partitions away: create a new topic".to_string()
            };
            changes.push(
                Change::new(
                    Code::TopicChanged,
                    locate.topic_statement(name, |s| matches!(s, TopicStmt::Partitions(_))),
                    format!(
                        "topic `{name}` now declares {} partitions (was {}): pipec creates only missing topics, so the existing one keeps {}",
                        topic.partitions, before.partitions, before.partitions
                    ),
                )
                .help(help),
            );
        }
        let key = |k: &Option<crate::plan::Ref<crate::plan::Field>>| {
            k.as_ref()
                .map_or("nothing".to_string(), |f| format!("`{}`", f.name))
        };
        if key(&before.key) != key(&topic.key) {
            changes.push(Change::new(
                Code::TopicChanged,
                locate.topic_statement(name, |s| matches!(s, TopicStmt::Key(_))),
                format!(
                    "topic `{name}` is now keyed by {} (was {}): events of one key written before and after the change may be in different partitions, so their order across it is not kept",
                    key(&topic.key),
                    key(&before.key)
                ),
            ));
        }
    }
    for before in &old.topics {
        if !new.topics.iter().any(|t| t.name == before.name) {
            changes.push(Change::new(
                Code::DeclarationRemoved,
                None,
                format!(
                    "topic `{}` removed: its messages stay in Kafka, and nothing of this pipeline writes or reads them",
                    before.name
                ),
            ));
        }
    }
    changes
}

pub(crate) fn endpoints(old: &Plan, new: &Plan, locate: Locate) -> Vec<Change> {
    let same = |a: &crate::plan::Endpoint, b: &crate::plan::Endpoint| {
        a.method == b.method && a.path == b.path
    };
    let mut changes = Vec::new();
    for endpoint in &new.endpoints {
        if !old.endpoints.iter().any(|e| same(e, endpoint)) {
            let (method, path) = (endpoint.method.as_str(), &endpoint.path);
            changes.push(Change::new(
                Code::DeclarationAdded,
                locate.endpoint(method, path),
                format!("endpoint `{method} {path}` added"),
            ));
        }
    }
    for before in &old.endpoints {
        if !new.endpoints.iter().any(|e| same(e, before)) {
            let (method, path) = (before.method.as_str(), &before.path);
            changes.push(
                Change::new(
                    Code::DeclarationRemoved,
                    locate.topic_name(&before.topic.name),
                    format!("endpoint `{method} {path}` removed: clients that call it get 404"),
                )
                .help(
                    "keep it until no client calls it (`GET /metrics` counts requests by endpoint)",
                ),
            );
        }
    }
    changes
}

pub(crate) fn tables(old: &Plan, new: &Plan, locate: Locate, explained: &Explained) -> Vec<Change> {
    let mut changes = Vec::new();
    for table in &new.tables {
        let qualified = table.qualified_name();
        let span = locate.table(&table.database, &table.name);
        let Some(before) = old.table_named(&qualified) else {
            changes.push(Change::new(
                Code::DeclarationAdded,
                span,
                format!("table `{qualified}` added: `pipec ddl` creates it"),
            ));
            continue;
        };
        // Columns a field's change explains were reported at the field.
        let sink = new.sink(&table.sink);
        let schema = new.topic_schema(new.topic(&sink.topic)).name.clone();
        // A column moving into or out of the partition directories is the
        // sink's partitioning change, reported at the sink.
        let partition = |name: &str| {
            before
                .partition_columns
                .iter()
                .chain(&table.partition_columns)
                .any(|c| c.name.eq_ignore_ascii_case(name))
        };
        let explained = |column: &str| {
            partition(column) || explained.contains(&(schema.clone(), column.to_string()))
        };
        let has = |columns: &[crate::plan::TableColumn], name: &str| {
            columns.iter().any(|c| c.name.eq_ignore_ascii_case(name))
        };
        let added: Vec<String> = table
            .columns
            .iter()
            .filter(|c| !has(&before.columns, &c.name) && !explained(&c.name))
            .map(|c| c.name.clone())
            .collect();
        if !added.is_empty() {
            changes.push(
                Change::new(
                    Code::ColumnAdded,
                    span,
                    format!(
                        "table `{qualified}` gains {}: rows in files written before show {} as null",
                        super::list(&added),
                        if added.len() == 1 { "it" } else { "them" }
                    ),
                )
                .help(format!(
                    "`pipec ddl NEW --alter OLD` adds {} to the table",
                    if added.len() == 1 { "it" } else { "them" }
                )),
            );
        }
        let removed: Vec<String> = before
            .columns
            .iter()
            .filter(|c| !has(&table.columns, &c.name) && !explained(&c.name))
            .map(|c| c.name.clone())
            .collect();
        if !removed.is_empty() {
            changes.push(Change::new(
                Code::FieldRemoved,
                span,
                format!(
                    "table `{qualified}` no longer shows {}: the engines' table keeps them until you create it again",
                    super::list(&removed)
                ),
            ));
        }
    }
    for before in &old.tables {
        let qualified = before.qualified_name();
        if new.table_named(&qualified).is_none() {
            changes.push(Change::new(
                Code::DeclarationRemoved,
                locate.sink_name(&old.sink(&before.sink).name),
                format!("table `{qualified}` removed: the engines keep it until you drop it"),
            ));
        }
    }
    changes
}
