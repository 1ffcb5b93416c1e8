//! Sinks: the topic they read, their filter, columns, files and trigger.

use super::filter::SinkColumns;
use super::settings::Slot;
use super::{Checker, Declared, Scope};
use crate::ast::{
    self, CompactSpec, Name, PartitionSpec, SinkStmt, Spanned, TriggerBound, TriggerSpec,
};
use crate::diagnostic::{closest, did_you_mean, Code, Diagnostic};
use crate::plan::{
    self, ColumnSource, Compression, DeltaSettings, MetadataNames, Partitioning, Ref, SinkFormat,
    Trigger, METADATA_COLUMNS,
};
use crate::source::Span;
use crate::types::DataType;

/// Bounds outside which a trigger is a mistake rather than a choice.
const MIN_INTERVAL_MS: i64 = 100;
const MAX_INTERVAL_MS: i64 = 86_400_000;
const MAX_ROWS: i64 = 100_000_000;
/// Bounds of a Delta sink's table settings.
const MIN_COMPACT_MS: i64 = 1_000;
const MAX_COMPACT_MS: i64 = 30 * 86_400_000;
const MIN_TARGET_BYTES: i64 = 1 << 20;
const MAX_TARGET_BYTES: i64 = 4 << 30;
const MIN_VACUUM_MS: i64 = 60_000;
const MAX_VACUUM_MS: i64 = 365 * 86_400_000;

impl Checker<'_> {
    pub(super) fn sink(
        &mut self,
        decl: &ast::SinkDecl,
        topics: &Declared<ast::TopicDecl>,
        scope: &Scope,
    ) -> Option<plan::Sink> {
        self.check_kafka_name(&decl.name, "sink name (it names the consumer group)");
        let mut from = Slot::new("from");
        let mut filter = Slot::new("where");
        let mut columns = Slot::new("columns");
        let mut path = Slot::new("path");
        let mut checkpoint = Slot::new("checkpoint");
        let mut trigger = Slot::new("trigger");
        let mut compression = Slot::new("compression");
        let mut partition = Slot::new("partition");
        let mut raw_event_name = Slot::new("metadata raw_event");
        let mut timestamp_name = Slot::new("metadata timestamp");
        let mut format = Slot::new("format");
        let mut compact = Slot::new("compact");
        let mut vacuum = Slot::new("vacuum");
        for statement in &decl.statements {
            let span = statement.span;
            match &statement.node {
                SinkStmt::From(name) => from.set(self, name, span),
                SinkStmt::Where(expr) => filter.set(self, expr, span),
                SinkStmt::Columns(names) => columns.set(self, names, span),
                SinkStmt::Path(p) => path.set(self, p, span),
                SinkStmt::Checkpoint(p) => checkpoint.set(self, p, span),
                SinkStmt::Trigger(t) => trigger.set(self, t, span),
                SinkStmt::Compression(c) => compression.set(self, c, span),
                SinkStmt::Partition(p) => partition.set(self, p, span),
                SinkStmt::Format(f) => format.set(self, f, span),
                SinkStmt::Compact(c) => compact.set(self, c, span),
                SinkStmt::Vacuum(v) => vacuum.set(self, v, span),
                SinkStmt::Metadata { column, alias } => match column.text.as_str() {
                    "raw_event" => raw_event_name.set(self, alias, span),
                    "timestamp" => timestamp_name.set(self, alias, span),
                    _ => self.unknown_metadata_column(column),
                },
            }
        }
        let what = format!("sink `{}`", decl.name.text);
        let name = &decl.name.text;
        let trigger = match trigger.get() {
            Some(spec) => self.trigger(spec, trigger.span().unwrap_or(decl.name.span)),
            None => Some(Trigger::Every {
                interval_ms: Some(10_000),
                rows: None,
            }),
        };
        let compression = match compression.get() {
            Some(name) => self.compression(name),
            None => Some(Compression::Snappy),
        };
        let format = self.sink_format(
            format.get().copied(),
            compact.get().copied().zip(compact.span()),
            vacuum.get().copied(),
            checkpoint.span(),
        );
        let (path_span, checkpoint_span) = (path.span(), checkpoint.span());
        let path_lit = path.require(self, decl.name.span, &what, &format!("path \"{name}\""));
        // A Delta table keeps its offsets in its own log.
        let checkpoint_lit = match &format {
            Some(SinkFormat::Delta(_)) => None,
            _ => checkpoint.require(
                self,
                decl.name.span,
                &what,
                &format!("checkpoint \"checkpoints/{name}\""),
            ),
        };
        let path = path_lit.and_then(|p| self.written_location(p));
        let checkpoint = checkpoint_lit.and_then(|p| self.written_location(p));
        for (location, role, span) in [
            (&path, "files", path_span),
            (&checkpoint, "checkpoint", checkpoint_span),
        ] {
            if let (Some(location), Some(span)) = (location, span) {
                self.places.push(super::storage::Place {
                    owner: what.clone(),
                    role,
                    location: location.clone(),
                    span,
                });
            }
        }

        let topic_name = from.require(self, decl.name.span, &what, "from my_topic")?;
        let Some(topic_index) = topics.index_of(&topic_name.text) else {
            self.unknown(Code::UnknownTopic, "topic", topic_name, topics.names());
            return None;
        };
        let schema = scope.topic_schema(topic_index)?;
        let metadata = self.metadata_names(
            raw_event_name.get().copied(),
            timestamp_name.get().copied(),
            schema,
            &decl.name,
        )?;
        let sink_columns = SinkColumns {
            schema,
            metadata: &metadata,
        };
        let filter = match filter.get() {
            Some(expr) => Some(self.filter(expr, &sink_columns)?),
            None => None,
        };
        let partitioning = match partition.get() {
            Some(spec) => Some(self.partitioning(spec, &sink_columns)?),
            None => None,
        };
        let columns = self.sink_columns(
            columns.get().copied(),
            &sink_columns,
            partitioning.as_ref(),
            decl.name.span,
        )?;
        Some(plan::Sink {
            name: name.clone(),
            topic: Ref::new(topic_index, topic_name.text.clone()),
            filter,
            columns,
            path: path?,
            checkpoint: match format.as_ref()? {
                SinkFormat::Parquet => Some(checkpoint?),
                SinkFormat::Delta(_) => None,
            },
            format: format?,
            trigger: trigger?,
            compression: compression?,
            partitioning,
            metadata,
        })
    }

    fn unknown_metadata_column(&mut self, column: &Name) {
        let names = METADATA_COLUMNS.map(|(c, _)| c);
        self.report(
            Diagnostic::new(
                Code::UnknownValue,
                column.span,
                format!("`{}` is not a metadata column", column.text),
            )
            .with_label("not `raw_event` or `timestamp`")
            .with_help(
                did_you_mean(&column.text, names.iter().copied()).unwrap_or_else(|| {
                    "the metadata columns are `raw_event` (the message as text) and `timestamp` (Kafka's time)".into()
                }),
            ),
        );
    }

    /// The sink's names for its metadata columns. Each must differ from
    /// every field of the schema (in any case: engines ignore it) and from
    /// the other, or the files would hold two columns of one name.
    fn metadata_names(
        &mut self,
        raw_event: Option<&Name>,
        timestamp: Option<&Name>,
        schema: &plan::Schema,
        sink_name: &Name,
    ) -> Option<MetadataNames> {
        let mut names = MetadataNames::default();
        let mut ok = true;
        for (alias, slot) in [
            (raw_event, &mut names.raw_event),
            (timestamp, &mut names.timestamp),
        ] {
            if let Some(alias) = alias {
                self.check_hive_name(alias, "column", false);
                *slot = alias.text.clone();
            }
        }
        if names.raw_event.eq_ignore_ascii_case(&names.timestamp) {
            let span = raw_event.or(timestamp).map_or(sink_name.span, |n| n.span);
            self.report(
                Diagnostic::new(
                    Code::MetadataClash,
                    span,
                    format!("both metadata columns would be named `{}`", names.timestamp),
                )
                .with_label("the same name as the other metadata column")
                .with_help("give each metadata column a name of its own"),
            );
            return None;
        }
        let each = [
            (
                "raw_event",
                &names.raw_event,
                raw_event,
                "the message as text",
                "raw_message",
            ),
            (
                "timestamp",
                &names.timestamp,
                timestamp,
                "the Kafka time",
                "kafka_time",
            ),
        ];
        for (original, metadata, alias, what, suggestion) in each {
            let Some(field) = schema
                .fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(metadata))
            else {
                continue;
            };
            let diagnostic = match alias {
                Some(alias) => Diagnostic::new(
                    Code::MetadataClash,
                    alias.span,
                    format!(
                        "the metadata column `{}` clashes with the field `{}` of schema `{}`",
                        alias.text, field.name, schema.name
                    ),
                )
                .with_label(format!("{what}, named like a field")),
                None => Diagnostic::new(
                    Code::MetadataClash,
                    sink_name.span,
                    format!(
                        "schema `{}` has a field `{}`, and this sink also writes `{metadata}` ({what})",
                        schema.name, field.name
                    ),
                )
                .with_label(format!("this sink would write two columns named `{metadata}`")),
            };
            self.report(diagnostic.with_help(format!(
                "name the metadata column otherwise in the sink: `metadata {original} as {suggestion}`"
            )));
            ok = false;
        }
        ok.then_some(names)
    }

    fn trigger(&mut self, spec: &TriggerSpec, span: Span) -> Option<Trigger> {
        let TriggerSpec::Every(bounds) = spec else {
            return Some(Trigger::Once);
        };
        let mut interval_ms = None;
        let mut rows = None;
        let mut ok = true;
        for bound in bounds {
            let (slot, value, kind) = match bound.node {
                TriggerBound::Duration(d) => {
                    let millis = d.amount.saturating_mul(d.unit.millis());
                    let problem = if d.amount <= 0 {
                        Some((
                            "must be longer than zero".to_string(),
                            "a trigger fires every N seconds, for example `every 10s`".to_string(),
                        ))
                    } else if millis < MIN_INTERVAL_MS {
                        Some((
                            format!("is shorter than {MIN_INTERVAL_MS}ms"),
                            "that would write a file for every few events; use `every 1s` or more"
                                .to_string(),
                        ))
                    } else if millis > MAX_INTERVAL_MS {
                        Some(("is longer than a day".to_string(), "events would wait over a day to reach the table; use at most `every 1d`, or `trigger once` for batch runs".to_string()))
                    } else {
                        None
                    };
                    if let Some((what, help)) = problem {
                        self.report(
                            Diagnostic::new(
                                Code::BadTrigger,
                                bound.span,
                                format!("the trigger interval {what}"),
                            )
                            .with_label(format!(
                                "`{}` as an interval",
                                self.source.slice(bound.span)
                            ))
                            .with_help(help),
                        );
                        ok = false;
                    }
                    (&mut interval_ms, millis.max(0) as u64, "interval")
                }
                TriggerBound::Rows(count) => {
                    if !(1..=MAX_ROWS).contains(&count) {
                        self.report(
                            Diagnostic::new(
                                Code::BadTrigger,
                                bound.span,
                                format!("a file of {count} rows cannot be written"),
                            )
                            .with_label(format!("expected 1 to {MAX_ROWS} rows"))
                            .with_help("a row trigger writes a file every N rows, for example `every 10000 rows`"),
                        );
                        ok = false;
                    }
                    (&mut rows, count.max(0) as u64, "row count")
                }
            };
            if slot.is_some() {
                self.report(
                    Diagnostic::new(
                        Code::BadTrigger,
                        bound.span,
                        format!("the trigger has two {kind}s"),
                    )
                    .with_label("a second bound of the same kind")
                    .with_help("combine a time and a row count: `every 10s or 10000 rows`"),
                );
                ok = false;
            }
            *slot = Some(value);
        }
        if ok {
            if let (None, Some(count)) = (interval_ms, rows) {
                // A buffer fills per Kafka partition: on a quiet partition
                // fewer than `count` rows never reach the table while the
                // pipeline runs.
                self.report(
                    Diagnostic::new(
                        Code::RowsOnlyTrigger,
                        span,
                        "rows can wait without bound: the trigger has no time bound".to_string(),
                    )
                    .with_label(format!(
                        "a file is written only once a partition has {count} rows"
                    ))
                    .with_help(format!(
                        "add a time bound so a quiet partition is written too: `trigger every {count} rows or 1m`"
                    )),
                );
            }
        }
        ok.then_some(Trigger::Every { interval_ms, rows })
    }

    /// `format`, and the table settings that only a Delta sink takes.
    fn sink_format(
        &mut self,
        format: Option<&Name>,
        compact: Option<(&Option<CompactSpec>, Span)>,
        vacuum: Option<&Spanned<ast::Duration>>,
        checkpoint: Option<Span>,
    ) -> Option<SinkFormat> {
        let delta = match format.map(|f| f.text.to_ascii_lowercase()).as_deref() {
            None | Some("parquet") => false,
            Some("delta") => true,
            Some(_) => {
                let name = format.expect("matched a name");
                let help = did_you_mean(&name.text, ["parquet", "delta"]).unwrap_or_else(|| {
                    "a sink writes `parquet` (plain files, the default) or `delta` (a Delta Lake table)".into()
                });
                self.report(
                    Diagnostic::new(
                        Code::UnknownValue,
                        name.span,
                        format!("unknown format `{}`", name.text),
                    )
                    .with_label("not a table format pipec writes")
                    .with_help(help),
                );
                return None;
            }
        };
        if !delta {
            let only_delta = [
                compact.map(|(_, span)| (span, "compact")),
                vacuum.map(|v| (v.span, "vacuum")),
            ];
            for (span, setting) in only_delta.into_iter().flatten() {
                self.report(
                    Diagnostic::new(
                        Code::BadTableSetting,
                        span,
                        format!("`{setting}` is a setting of Delta tables"),
                    )
                    .with_label("this sink writes plain Parquet files")
                    .with_help("add `format delta`: plain files cannot be rewritten safely while engines read them"),
                );
            }
            return Some(SinkFormat::Parquet);
        }
        let mut ok = true;
        if let Some(span) = checkpoint {
            self.report(
                Diagnostic::new(
                    Code::BadTableSetting,
                    span,
                    "a Delta sink has no checkpoint directory",
                )
                .with_label("not used by `format delta`")
                .with_help(
                    "remove it: the table's own log records the Kafka offsets with each commit",
                ),
            );
            ok = false;
        }
        let mut settings = DeltaSettings::default();
        match compact {
            Some((None, _)) => settings.compact_every_ms = None,
            Some((Some(spec), _)) => {
                let every = spec.every.node.millis();
                if !(MIN_COMPACT_MS..=MAX_COMPACT_MS).contains(&every) {
                    self.bad_table_setting(
                        spec.every.span,
                        "compaction every",
                        "between `1s` and `30d`",
                        "compaction too often rewrites the table for nothing; too rarely, and queries slow down",
                    );
                    ok = false;
                }
                settings.compact_every_ms = Some(every);
                if let Some(target) = &spec.target {
                    let bytes = target.node.amount.saturating_mul(target.node.unit);
                    if !(MIN_TARGET_BYTES..=MAX_TARGET_BYTES).contains(&bytes) {
                        self.bad_table_setting(
                            target.span,
                            "a target file size",
                            "between `1MB` and `4GB`",
                            "smaller files are what compaction is for; much larger ones take long to rewrite and leave readers one file to split",
                        );
                        ok = false;
                    }
                    settings.target_file_bytes = bytes;
                }
            }
            None => {}
        }
        if let Some(after) = vacuum {
            let ms = after.node.millis();
            if !(MIN_VACUUM_MS..=MAX_VACUUM_MS).contains(&ms) {
                self.bad_table_setting(
                    after.span,
                    "vacuum after",
                    "between `1m` and `365d`",
                    "files a compaction replaced must outlive every query that began before it (Delta's own default is `7d`)",
                );
                ok = false;
            }
            settings.vacuum_after_ms = ms;
        }
        ok.then_some(SinkFormat::Delta(settings))
    }

    fn bad_table_setting(&mut self, span: Span, what: &str, bounds: &str, why: &str) {
        self.report(
            Diagnostic::new(
                Code::BadTableSetting,
                span,
                format!("{what} is out of bounds"),
            )
            .with_label(format!("must be {bounds}"))
            .with_help(why),
        );
    }

    fn compression(&mut self, name: &Name) -> Option<Compression> {
        let lower = name.text.to_ascii_lowercase();
        if let Some(found) = Compression::ALL.into_iter().find(|c| c.name() == lower) {
            return Some(found);
        }
        let names: Vec<_> = Compression::ALL.iter().map(|c| c.name()).collect();
        let help = did_you_mean(&name.text, names.iter().copied())
            .unwrap_or_else(|| format!("Parquet compressions here are {}", names.join(", ")));
        self.report(
            Diagnostic::new(
                Code::UnknownValue,
                name.span,
                format!("unknown compression `{}`", name.text),
            )
            .with_label("not a Parquet compression pipec writes")
            .with_help(help),
        );
        None
    }

    fn partitioning(
        &mut self,
        spec: &PartitionSpec,
        sink_columns: &SinkColumns,
    ) -> Option<Partitioning> {
        let schema = sink_columns.schema;
        let columns = sink_columns.all();
        let lookup = |name: &Name| {
            columns
                .iter()
                .find(|(c, _)| *c == name.text)
                .map(|(_, t)| *t)
        };
        let not_in_schema = |checker: &mut Self, name: &Name| {
            let help = closest(&name.text, columns.iter().map(|(c, _)| *c))
                .map(|c| format!("did you mean `{c}`?"));
            checker.report(
                Diagnostic::new(
                    Code::BadPartition,
                    name.span,
                    format!(
                        "cannot partition by `{}`: schema `{}` has no such field",
                        name.text, schema.name
                    ),
                )
                .with_label("not in the schema")
                .with_help_opt(help),
            );
        };
        match spec {
            PartitionSpec::Column(name) => {
                let data_type = match lookup(name) {
                    None => {
                        not_in_schema(self, name);
                        return None;
                    }
                    Some(t) => t,
                };
                if name.text == sink_columns.metadata.raw_event
                    || name.text == sink_columns.metadata.timestamp
                    || matches!(data_type, DataType::Float | DataType::Timestamp)
                {
                    let help = if data_type == DataType::Timestamp {
                        format!("partition by its day: `partition by date({})`", name.text)
                    } else {
                        "partition by a string, int or bool field with few distinct values".into()
                    };
                    self.report(
                        Diagnostic::new(
                            Code::BadPartition,
                            name.span,
                            format!("`{}` would make a directory per distinct value", name.text),
                        )
                        .with_label(format!(
                            "{} {data_type} column",
                            super::endpoint::article(data_type)
                        ))
                        .with_help(help),
                    );
                    return None;
                }
                Some(Partitioning::Column {
                    column: name.text.clone(),
                    data_type,
                })
            }
            PartitionSpec::Date { column, alias } => {
                match lookup(column) {
                    None => {
                        not_in_schema(self, column);
                        return None;
                    }
                    Some(DataType::Timestamp) => {}
                    Some(other) => {
                        self.report(
                            Diagnostic::new(
                                Code::BadPartition,
                                column.span,
                                format!(
                                    "`date()` takes a timestamp, but `{}` is {} {other}",
                                    column.text,
                                    super::endpoint::article(other)
                                ),
                            )
                            .with_label("not a timestamp")
                            .with_help(format!(
                                "`{0}` (the Kafka time) is always there: `partition by date({0})`",
                                sink_columns.metadata.timestamp
                            )),
                        );
                        return None;
                    }
                }
                let partition_column = alias.as_ref().map_or("dt", |a| a.text.as_str());
                if let Some(alias) = alias {
                    self.check_hive_name(alias, "column", false);
                    if columns
                        .iter()
                        .any(|(c, _)| c.eq_ignore_ascii_case(&alias.text))
                    {
                        self.report(
                            Diagnostic::new(
                                Code::BadPartition,
                                alias.span,
                                format!(
                                    "the partition column `{}` is already a column",
                                    alias.text
                                ),
                            )
                            .with_label("choose another name")
                            .with_help("for example `as dt`"),
                        );
                        return None;
                    }
                }
                Some(Partitioning::Date {
                    source: column.text.clone(),
                    column: partition_column.to_string(),
                })
            }
        }
    }

    /// The columns written into each file: as listed, or the seed's default
    /// (`raw_event`, `timestamp`, then every field), less the partition column.
    fn sink_columns(
        &mut self,
        listed: Option<&Vec<Name>>,
        sink_columns: &SinkColumns,
        partitioning: Option<&Partitioning>,
        sink_span: Span,
    ) -> Option<Vec<plan::Column>> {
        let schema = sink_columns.schema;
        let metadata_columns = sink_columns.metadata.columns();
        let metadata = |name: &str| {
            metadata_columns
                .iter()
                .find(|(c, _, _)| *c == name)
                .map(|(c, t, source)| plan::Column {
                    name: c.to_string(),
                    data_type: *t,
                    nullable: false,
                    source: source.clone(),
                })
        };
        let field = |f: &plan::Field| plan::Column {
            name: f.name.clone(),
            data_type: f.data_type,
            nullable: f.optional,
            source: ColumnSource::Field(f.key.clone()),
        };
        let partition_column = partitioning.map(|p| p.column().0.to_string());
        let mut out: Vec<(plan::Column, Option<Span>)> = Vec::new();
        let mut ok = true;
        match listed {
            None => {
                for (name, _, _) in &metadata_columns {
                    out.extend(metadata(name).map(|c| (c, None)));
                }
                out.extend(schema.fields.iter().map(|f| (field(f), None)));
            }
            Some(names) => {
                for name in names {
                    if let Some((_, Some(first))) = out.iter().find(|(c, _)| c.name == name.text) {
                        self.report(
                            Diagnostic::new(
                                Code::Duplicate,
                                name.span,
                                format!("column `{}` is listed twice", name.text),
                            )
                            .with_secondary(*first, "first listed here"),
                        );
                        ok = false;
                        continue;
                    }
                    let column = metadata(&name.text).or_else(|| {
                        schema
                            .fields
                            .iter()
                            .find(|f| f.name == name.text)
                            .map(field)
                    });
                    match column {
                        Some(column) => out.push((column, Some(name.span))),
                        None => {
                            let known = sink_columns.all();
                            let help = match schema.fields.iter().find(|f| f.key == name.text) {
                                Some(f) => Some(format!(
                                    "the field reading `{}` is named `{}`",
                                    f.key, f.name
                                )),
                                None => closest(&name.text, known.iter().map(|(c, _)| *c))
                                    .map(|c| format!("did you mean `{c}`?")),
                            };
                            self.report(
                                Diagnostic::new(
                                    Code::UnknownField,
                                    name.span,
                                    format!("unknown column `{}`", name.text),
                                )
                                .with_label(format!(
                                    "not `{}`, `{}` or a field of `{}`",
                                    sink_columns.metadata.raw_event,
                                    sink_columns.metadata.timestamp,
                                    schema.name
                                ))
                                .with_help_opt(help),
                            );
                            ok = false;
                        }
                    }
                }
            }
        }
        // Metadata names are fixed; a field named like one would shadow it.
        for (i, (column, span)) in out.iter().enumerate() {
            if let Some((other, _)) = out[..i]
                .iter()
                .find(|(o, _)| o.name.eq_ignore_ascii_case(&column.name) && o.name != column.name)
            {
                self.report(
                    Diagnostic::new(
                        Code::CaseClash,
                        span.unwrap_or(sink_span),
                        format!(
                            "columns `{}` and `{}` differ only in case",
                            other.name, column.name
                        ),
                    )
                    .with_label(if span.is_some() {
                        "Hive, Spark and Trino would see one column".to_string()
                    } else {
                        format!(
                            "this sink's default columns include both `{}` and `{}`",
                            other.name, column.name
                        )
                    })
                    .with_help(format!(
                        "rename the field `{}`, or list the sink's `columns` without one of them",
                        column.name
                    )),
                );
                ok = false;
            }
        }
        let columns: Vec<plan::Column> = out
            .into_iter()
            .map(|(c, _)| c)
            .filter(|c| Some(&c.name) != partition_column.as_ref())
            .collect();
        ok.then_some(columns)
    }
}
