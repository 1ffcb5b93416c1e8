//! Fields: what a schema's change does to the messages already in its
//! topics and to the files its sinks already wrote. Each field's change is
//! reported once, at the field, whatever reaches it.

use super::{list, Change, Locate};
use crate::diagnostic::Code;
use crate::plan::{ColumnSource, Field, Plan, Schema};
use std::collections::HashSet;

/// Columns whose change a field's change already reported, by the new
/// schema's name and the column's old or new name: the sinks and tables
/// over them say nothing more about them.
pub(crate) type Explained = HashSet<(String, String)>;

pub(crate) struct Fields {
    pub changes: Vec<Change>,
    pub explained: Explained,
}

/// One schema that ran, one that replaces it, and the topics (of the same
/// name in both plans) that carry them.
struct Pair<'a> {
    old: &'a Schema,
    new: &'a Schema,
    topics: Vec<String>,
}

pub(crate) fn compare(old: &Plan, new: &Plan, locate: Locate) -> Fields {
    let mut pairs: Vec<Pair> = Vec::new();
    for topic in &new.topics {
        let Some(before) = old.topics.iter().find(|t| t.name == topic.name) else {
            continue;
        };
        let (old_schema, new_schema) = (old.topic_schema(before), new.topic_schema(topic));
        match pairs
            .iter_mut()
            .find(|p| p.old.name == old_schema.name && p.new.name == new_schema.name)
        {
            Some(pair) => pair.topics.push(topic.name.clone()),
            None => pairs.push(Pair {
                old: old_schema,
                new: new_schema,
                topics: vec![topic.name.clone()],
            }),
        }
    }
    let mut out = Fields {
        changes: Vec::new(),
        explained: Explained::new(),
    };
    for pair in &pairs {
        compare_pair(old, new, pair, locate, &mut out);
    }
    out
}

fn compare_pair(old: &Plan, new: &Plan, pair: &Pair, locate: Locate, out: &mut Fields) {
    let schema = pair.new.name.as_str();
    let new_names: HashSet<&str> = pair.new.fields.iter().map(|f| f.name.as_str()).collect();
    let new_keys: HashSet<&str> = pair.new.fields.iter().map(|f| f.key.as_str()).collect();
    let mut matched = vec![false; pair.old.fields.len()];
    let context = Context {
        old,
        new,
        pair,
        locate,
    };
    for (index, field) in pair.new.fields.iter().enumerate() {
        let by_name = pair.old.fields.iter().position(|f| f.name == field.name);
        let unmatched = |i: usize, matched: &[bool]| {
            !matched[i] && !new_names.contains(pair.old.fields[i].name.as_str())
        };
        let by_key = || {
            (0..pair.old.fields.len())
                .find(|&i| unmatched(i, &matched) && pair.old.fields[i].key == field.key)
        };
        let in_place = || {
            pair.old.fields.get(index).filter(|before| {
                unmatched(index, &matched)
                    && before.data_type == field.data_type
                    && !new_keys.contains(before.key.as_str())
            })
        };
        let (before, changes) = if let Some(i) = by_name {
            matched[i] = true;
            (i, context.same_name(&pair.old.fields[i], field))
        } else if let Some(i) = by_key() {
            matched[i] = true;
            (
                i,
                vec![context.renamed_keeping_key(&pair.old.fields[i], field)],
            )
        } else if let Some(before) = in_place() {
            matched[index] = true;
            (index, vec![context.renamed(before, field)])
        } else {
            out.explained.insert((schema.into(), field.name.clone()));
            out.changes.push(context.added(field));
            continue;
        };
        if !changes.is_empty() {
            out.explained.insert((schema.into(), field.name.clone()));
            let old_name = pair.old.fields[before].name.clone();
            out.explained.insert((schema.into(), old_name));
            out.changes.extend(changes);
        }
    }
    for (field, _) in pair.old.fields.iter().zip(&matched).filter(|(_, m)| !**m) {
        out.explained.insert((schema.into(), field.name.clone()));
        out.changes.push(context.removed(field));
    }
}

struct Context<'a> {
    old: &'a Plan,
    new: &'a Plan,
    pair: &'a Pair<'a>,
    locate: Locate<'a>,
}

impl Context<'_> {
    fn topics(&self) -> String {
        let word = if self.pair.topics.len() == 1 {
            "topic"
        } else {
            "topics"
        };
        format!("{word} {}", list(&self.pair.topics))
    }

    /// The sinks whose files already hold the old column `column`: they
    /// read one of the pair's topics, wrote it, and write to the same path.
    fn writers(&self, column: &str) -> Vec<String> {
        self.old
            .sinks
            .iter()
            .filter(|sink| self.pair.topics.contains(&sink.topic.name))
            .filter(|sink| {
                sink.columns
                    .iter()
                    .any(|c| c.name == column && matches!(c.source, ColumnSource::Field(_)))
            })
            .filter(|sink| {
                self.new
                    .sink_named(&sink.name)
                    .is_some_and(|now| now.path == sink.path)
            })
            .map(|sink| sink.name.clone())
            .collect()
    }

    /// "files sink `s` already wrote": empty when no sink's files are touched.
    fn files_of(&self, column: &str) -> Option<String> {
        let writers = self.writers(column);
        let word = if writers.len() == 1 { "sink" } else { "sinks" };
        (!writers.is_empty()).then(|| format!("the files {word} {} already wrote", list(&writers)))
    }

    fn field_span(&self, field: &Field) -> Option<crate::source::Span> {
        self.locate.field_name(&self.pair.new.name, &field.name)
    }

    fn same_name(&self, before: &Field, field: &Field) -> Vec<Change> {
        let schema = &self.pair.new.name;
        let name = &field.name;
        let mut changes = Vec::new();
        if before.data_type != field.data_type {
            changes.push(self.type_changed(before, field));
        }
        if before.key != field.key {
            let consequence = if field.optional {
                format!("read `{name}` as null")
            } else {
                "be dead letters".into()
            };
            changes.push(
                Change::new(
                    Code::FieldKeyChanged,
                    self.field_span(field),
                    format!(
                        "field `{name}` now reads the JSON key `{}` instead of `{}`: messages already in {} carry `{}`, so they will {consequence}",
                        field.key, before.key, self.topics(), before.key
                    ),
                )
                .help(format!(
                    "keep the old key with `{name}: {} from \"{}\"` until the topic holds no message written before",
                    type_text(field),
                    before.key
                )),
            );
        }
        if before.optional && !field.optional {
            changes.push(
                Change::new(
                    Code::FieldNowRequired,
                    self.field_span(field),
                    format!(
                        "field `{name}` of schema `{schema}` is now required: messages already in {} without `{}` will be dead letters",
                        self.topics(),
                        field.key
                    ),
                )
                .help(format!("keep it optional (`{name}: {}?`) if older events may lack it", field.data_type)),
            );
        } else if !before.optional && field.optional {
            changes.push(Change::new(
                Code::FieldNowOptional,
                self.field_span(field),
                format!("field `{name}` of schema `{schema}` is now optional: files written from now on may hold nulls in `{name}`"),
            ));
        }
        changes
    }

    fn type_changed(&self, before: &Field, field: &Field) -> Change {
        let name = &field.name;
        let renamed = if before.name == field.name {
            String::new()
        } else {
            format!(" (was `{}`)", before.name)
        };
        let files = match self.files_of(&before.name) {
            Some(files) => format!(
                "{files} hold `{}` as {}, and ",
                before.name, before.data_type
            ),
            None => String::new(),
        };
        Change::new(
            Code::TypeChanged,
            self.locate.field_type(&self.pair.new.name, name),
            format!(
                "field `{name}`{renamed} changed type from {} to {}: {files}messages already in {} with {} `{}` will be dead letters",
                before.data_type, field.data_type, self.topics(), article(before.data_type), before.key
            ),
        )
        .help(format!(
            "keep `{}: {}` and add the new value as a new field, under its own JSON key",
            before.name,
            type_text(before)
        ))
    }

    fn renamed_keeping_key(&self, before: &Field, field: &Field) -> Change {
        if before.data_type != field.data_type {
            return self.type_changed(before, field);
        }
        let name = &field.name;
        let files = match self.files_of(&before.name) {
            Some(files) => format!(
                ": {files} have the column `{}`, so their rows show `{name}` as null",
                before.name
            ),
            None => String::new(),
        };
        Change::new(
            Code::FieldRenamed,
            self.field_span(field),
            format!(
                "field `{}` renamed to `{name}`, still read from the JSON key `{}`{files}",
                before.name, field.key
            ),
        )
    }

    fn renamed(&self, before: &Field, field: &Field) -> Change {
        let name = &field.name;
        let files = match self.files_of(&before.name) {
            Some(files) => format!(", and {files} have the column `{}`", before.name),
            None => String::new(),
        };
        Change::new(
            Code::ColumnRenamed,
            self.field_span(field),
            format!(
                "field `{}` renamed to `{name}` without `from`: messages already in {} carry the key `{}`{files}",
                before.name,
                self.topics(),
                before.key
            ),
        )
        .help(format!(
            "keep reading the old key: `{name}: {} from \"{}\"`",
            type_text(field),
            before.key
        ))
    }

    fn added(&self, field: &Field) -> Change {
        let schema = &self.pair.new.name;
        let name = &field.name;
        if field.optional {
            let alter = self.tables_gaining(name);
            let change = Change::new(
                Code::OptionalFieldAdded,
                self.field_span(field),
                format!("optional field `{name}` added to schema `{schema}`: messages and files written before read it as null"),
            );
            if alter.is_empty() {
                change
            } else {
                change.help(format!(
                    "`pipec ddl NEW --alter OLD` adds it to {}",
                    table_word(&alter)
                ))
            }
        } else {
            Change::new(
                Code::RequiredFieldAdded,
                self.field_span(field),
                format!(
                    "required field `{name}` added to schema `{schema}`: messages already in {} without `{}` will be dead letters",
                    self.topics(),
                    field.key
                ),
            )
            .help(format!("make it optional (`{name}: {}?`) if older events may lack it", field.data_type))
        }
    }

    fn removed(&self, field: &Field) -> Change {
        let schema = &self.pair.new.name;
        let name = &field.name;
        let files = match self.files_of(name) {
            Some(files) => format!(": {files} keep the column, which their tables no longer show"),
            None => String::new(),
        };
        let mut change = Change::new(
            Code::FieldRemoved,
            self.locate.schema_name(schema),
            format!("field `{name}` removed from schema `{schema}`{files}"),
        );
        if self.pair.new.reject_extra_fields {
            change.message.push_str(&format!(
                "; messages already in {} with `{}` will be dead letters (`extra fields reject`)",
                self.topics(),
                field.key
            ));
        }
        change
    }

    /// The new plan's tables over this schema's topics that gain the
    /// column `column`: what `pipec ddl --alter` adds it to.
    fn tables_gaining(&self, column: &str) -> Vec<String> {
        self.new
            .tables
            .iter()
            .filter(|t| {
                self.pair
                    .topics
                    .contains(&self.new.sink(&t.sink).topic.name)
            })
            .filter(|t| t.columns.iter().any(|c| c.name == column))
            .filter(|t| {
                self.old
                    .table_named(&t.qualified_name())
                    .is_some_and(|before| before.columns.iter().all(|c| c.name != column))
            })
            .map(|t| t.qualified_name())
            .collect()
    }
}

fn table_word(tables: &[String]) -> String {
    let word = if tables.len() == 1 { "table" } else { "tables" };
    format!("{word} {}", list(tables))
}

fn type_text(field: &Field) -> String {
    format!(
        "{}{}",
        field.data_type,
        if field.optional { "?" } else { "" }
    )
}

fn article(data_type: crate::types::DataType) -> &'static str {
    use crate::types::DataType;
    match data_type {
        DataType::Int => "an int",
        DataType::String => "a string",
        DataType::Float => "a float",
        DataType::Bool => "a bool",
        DataType::Timestamp => "a timestamp",
    }
}
