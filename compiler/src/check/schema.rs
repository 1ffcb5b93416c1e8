//! Schemas, topics and the `kafka` block.

use super::settings::Slot;
use super::{Checker, Declared};
use crate::ast::{self, Ast, Declaration, KafkaStmt, Name, TopicStmt};
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::hive;
use crate::plan::{self, KafkaOption, KafkaSettings, Ref, Secret};
use crate::types::DataType;
use std::collections::BTreeMap;

/// The most partitions a topic may ask for; more is a typo, not a plan.
const MAX_PARTITIONS: i64 = 10_000;

impl Checker<'_> {
    pub(super) fn schema(&mut self, decl: &ast::SchemaDecl) -> plan::Schema {
        let mut fields: Vec<plan::Field> = Vec::new();
        let mut seen: Vec<&ast::FieldDecl> = Vec::new();
        for field in &decl.fields {
            if let Some(first) = seen.iter().find(|f| f.name.text == field.name.text) {
                self.report(
                    Diagnostic::new(
                        Code::Duplicate,
                        field.name.span,
                        format!("field `{}` is declared twice", field.name.text),
                    )
                    .with_label("declared again here")
                    .with_secondary(first.name.span, "first declared here"),
                );
                continue;
            }
            if let Some(first) = seen
                .iter()
                .find(|f| f.name.text.eq_ignore_ascii_case(&field.name.text))
            {
                self.report(
                    Diagnostic::new(
                        Code::CaseClash,
                        field.name.span,
                        format!(
                            "fields `{}` and `{}` differ only in case",
                            first.name.text, field.name.text
                        ),
                    )
                    .with_label("clashes with the field above")
                    .with_secondary(first.name.span, "this field")
                    .with_help("Hive, Spark and Trino ignore case in column names: rename one"),
                );
            }
            let key = field
                .source
                .as_ref()
                .map_or(field.name.text.clone(), |s| s.value.clone());
            if let Some(first) = seen
                .iter()
                .find(|f| f.source.as_ref().map_or(&f.name.text, |s| &s.value) == &key)
            {
                self.report(
                    Diagnostic::new(
                        Code::Duplicate,
                        field.source.as_ref().map_or(field.name.span, |s| s.span),
                        format!("two fields read the event key `{key}`"),
                    )
                    .with_label("read again here")
                    .with_secondary(first.name.span, "already read by this field"),
                );
            }
            self.check_hive_name(&field.name, "column", field.source.is_none());
            seen.push(field);
            let Some(data_type) = self.data_type(&field.type_name) else {
                continue;
            };
            fields.push(plan::Field {
                name: field.name.text.clone(),
                key,
                data_type,
                optional: field.optional,
            });
        }
        let mut extra = Slot::new("extra fields");
        for statement in &decl.extra_fields {
            extra.set(self, statement.node, statement.span);
        }
        plan::Schema {
            name: decl.name.text.clone(),
            fields,
            reject_extra_fields: extra.get() == Some(&ast::ExtraFields::Reject),
        }
    }

    fn data_type(&mut self, name: &Name) -> Option<DataType> {
        if let Some(data_type) = DataType::from_name(&name.text) {
            return Some(data_type);
        }
        let aliases = [
            ("integer", "int"),
            ("long", "int"),
            ("bigint", "int"),
            ("double", "float"),
            ("boolean", "bool"),
            ("str", "string"),
            ("text", "string"),
            ("datetime", "timestamp"),
        ];
        let help = aliases
            .iter()
            .find(|(alias, _)| name.text.eq_ignore_ascii_case(alias))
            .map(|(_, canonical)| format!("pipec calls this type `{canonical}`"))
            .or_else(|| did_you_mean(&name.text, DataType::ALL.iter().map(|t| t.name())))
            .unwrap_or_else(|| "types are `string`, `int`, `float`, `bool` and `timestamp`".into());
        self.report(
            Diagnostic::new(
                Code::UnknownType,
                name.span,
                format!("unknown type `{}`", name.text),
            )
            .with_label("not a type")
            .with_help(help),
        );
        None
    }

    /// Rejects names that Hive, Spark or Trino cannot hold as a table or
    /// column name. `suggest_mapping`: the name comes straight from the event,
    /// so suggest a clean column name read from the original key.
    pub(super) fn check_hive_name(&mut self, name: &Name, what: &str, suggest_mapping: bool) {
        if let Some(bad) = hive::invalid_character(&name.text) {
            let clean: String = name
                .text
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let shown = if bad == ' ' {
                "a space".to_string()
            } else {
                format!("`{bad}`")
            };
            let diagnostic = Diagnostic::new(
                Code::HiveIdentifier,
                name.span,
                format!("`{}` cannot be a {what} name in Hive", name.text),
            )
            .with_label(format!("contains {shown}"))
            .with_help("Hive, Spark and Trino names are letters, digits and `_`");
            let diagnostic = if suggest_mapping {
                diagnostic.with_help(format!(
                    "name the column `{clean}` and read it from the event key: `{clean}: ... from \"{}\"`",
                    name.text
                ))
            } else {
                diagnostic.with_help(format!("for example `{clean}`"))
            };
            self.report(diagnostic);
        } else if name.text.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::HiveIdentifier,
                    name.span,
                    format!("empty {what} name"),
                )
                .with_label("a name needs at least one character"),
            );
        } else if name.text.len() > hive::MAX_NAME_LENGTH {
            self.report(
                Diagnostic::new(
                    Code::HiveIdentifier,
                    name.span,
                    format!("the {what} name is too long for the Hive metastore"),
                )
                .with_label(format!(
                    "{} characters; Hive keeps {}",
                    name.text.len(),
                    hive::MAX_NAME_LENGTH
                )),
            );
        }
    }

    pub(super) fn topic(
        &mut self,
        decl: &ast::TopicDecl,
        schemas: &Declared<ast::SchemaDecl>,
        plan_schemas: &[plan::Schema],
    ) -> Option<plan::Topic> {
        self.check_kafka_name(&decl.name, "topic name");
        let mut schema = Slot::new("schema");
        let mut partitions = Slot::new("partitions");
        let mut key = Slot::new("key");
        for statement in &decl.statements {
            match &statement.node {
                TopicStmt::Schema(name) => schema.set(self, name, statement.span),
                TopicStmt::Partitions(count) => partitions.set(self, count, statement.span),
                TopicStmt::Key(name) => key.set(self, name, statement.span),
            }
        }
        let partitions = match partitions.get() {
            Some(count) if !(1..=MAX_PARTITIONS).contains(&count.node) => {
                self.report(
                    Diagnostic::new(
                        Code::BadTopic,
                        count.span,
                        format!("a topic cannot have {} partitions", count.node),
                    )
                    .with_label(format!("expected 1 to {MAX_PARTITIONS}"))
                    .with_help("partitions bound how many sink workers share the topic; 1 to 12 is typical"),
                );
                1
            }
            Some(count) => count.node as u32,
            None => 1,
        };
        let example = match schemas.names().next() {
            Some(name) => format!("schema {name}"),
            None => "schema my_event".to_string(),
        };
        let schema_name = schema.require(
            self,
            decl.name.span,
            &format!("topic `{}`", decl.name.text),
            &example,
        )?;
        let Some(index) = schemas.index_of(&schema_name.text) else {
            self.unknown(Code::UnknownSchema, "schema", schema_name, schemas.names());
            return None;
        };
        let resolved = &plan_schemas[index];
        let key = match key.get() {
            Some(name) => match resolved.fields.iter().position(|f| f.name == name.text) {
                Some(field) => Some(Ref::new(field, name.text.clone())),
                None => {
                    self.unknown(
                        Code::UnknownField,
                        "field",
                        name,
                        resolved.fields.iter().map(|f| f.name.as_str()),
                    );
                    None
                }
            },
            None => None,
        };
        Some(plan::Topic {
            name: decl.name.text.clone(),
            schema: Ref::new(index, resolved.name.clone()),
            partitions,
            key,
        })
    }

    pub(super) fn kafka(&mut self, ast: &Ast) -> KafkaSettings {
        let mut settings = KafkaSettings::default();
        let mut first_block = None;
        let mut brokers = Slot::new("brokers");
        let mut option_spans: BTreeMap<String, crate::source::Span> = BTreeMap::new();
        for decl in &ast.declarations {
            let Declaration::Kafka(block) = decl else {
                continue;
            };
            if let Some(first) = first_block {
                self.report(
                    Diagnostic::new(Code::Duplicate, block.keyword, "a second `kafka` block")
                        .with_secondary(first, "the first one")
                        .with_help("put every Kafka setting in one block"),
                );
            }
            first_block.get_or_insert(block.keyword);
            for statement in &block.statements {
                match &statement.node {
                    KafkaStmt::Brokers(list) => brokers.set(self, list, statement.span),
                    KafkaStmt::Option { key, value } => {
                        if let Some(first) = option_spans.get(&key.value) {
                            self.report(
                                Diagnostic::new(
                                    Code::DuplicateSetting,
                                    key.span,
                                    format!("option `{}` is set twice", key.value),
                                )
                                .with_secondary(*first, "first set here"),
                            );
                            continue;
                        }
                        option_spans.insert(key.value.clone(), key.span);
                        if matches!(
                            key.value.as_str(),
                            "bootstrap.servers" | "metadata.broker.list"
                        ) {
                            self.report(
                                Diagnostic::new(
                                    Code::DuplicateSetting,
                                    key.span,
                                    "brokers are set with `brokers`, not as an option",
                                )
                                .with_help(
                                    "write `brokers \"host:9092\"`, so `--brokers` can override it",
                                ),
                            );
                            continue;
                        }
                        if crate::plan::DELIVERY_TIMEOUT_OPTIONS.contains(&key.value.as_str()) {
                            self.report(
                                Diagnostic::new(
                                    Code::DuplicateSetting,
                                    key.span,
                                    "the delivery timeout is set with `pipec run --delivery-timeout`, not as an option",
                                )
                                .with_label("librdkafka's name for the timeout pipec sets itself")
                                .with_help(
                                    "drop this option and run with `--delivery-timeout SECONDS`: it bounds how long a request waits for the broker, and pipec answers 503 when it passes",
                                ),
                            );
                            continue;
                        }
                        let Some(value) = self.interpolate(value) else {
                            continue;
                        };
                        let credential = ["password", "secret", "token"]
                            .iter()
                            .any(|word| key.value.contains(word));
                        let option = if credential {
                            KafkaOption::Secret(Secret::new(value))
                        } else {
                            KafkaOption::Plain(value)
                        };
                        settings.options.insert(key.value.clone(), option);
                    }
                }
            }
        }
        if let Some(list) = brokers.get() {
            settings.brokers = self
                .interpolate(list)
                .map(|b| b.trim().to_string())
                .filter(|b| !b.is_empty());
        }
        settings
    }
}
