//! Stage 2: [`Ast`] → [`Plan`]. Resolves every name, types every filter and
//! checks that the parts agree with each other, collecting all problems.

mod endpoint;
mod env;
mod filter;
mod reach;
mod schema;
mod settings;
mod sink;
mod storage;
mod table;
mod test;

pub use env::Environment;

use crate::ast::{Ast, Declaration, Name};
use crate::diagnostic::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::plan::{self, Checked, Plan};
use crate::source::Source;

/// A plan and the warnings found while checking it.
#[derive(Debug, Clone)]
pub struct CheckedPlan {
    pub plan: Plan,
    pub warnings: Diagnostics,
}

/// Checks a parsed file. `Err` holds every error and warning found, sorted by
/// position; `Ok` holds the plan and any warnings.
pub fn check(
    source: &Source,
    ast: &Ast,
    env: &dyn Environment,
) -> Result<CheckedPlan, Diagnostics> {
    let mut checker = Checker {
        source,
        env,
        diagnostics: Diagnostics::default(),
        places: Vec::new(),
    };
    let plan = checker.plan(ast);
    let diagnostics = checker.diagnostics.sorted();
    if diagnostics.has_errors() {
        Err(diagnostics)
    } else {
        Ok(CheckedPlan {
            plan,
            warnings: diagnostics,
        })
    }
}

struct Checker<'a> {
    source: &'a Source,
    env: &'a dyn Environment,
    diagnostics: Diagnostics,
    /// Every directory the pipeline writes, gathered as sinks are checked
    /// (even sinks with other errors), then compared by `check_storage`.
    places: Vec<storage::Place>,
}

/// Declarations of one kind, by name: the first of each name wins, and later
/// ones are reported as duplicates.
struct Declared<'a, T> {
    items: Vec<(&'a Name, &'a T)>,
    /// Name → index into `items`: lookups stay constant-time in files with
    /// thousands of declarations.
    by_name: std::collections::HashMap<&'a str, usize>,
}

impl<'a, T> Declared<'a, T> {
    fn collect(
        checker: &mut Checker,
        kind: &str,
        decls: impl Iterator<Item = (&'a Name, &'a T)>,
    ) -> Self {
        let mut items: Vec<(&'a Name, &'a T)> = Vec::new();
        let mut by_name: std::collections::HashMap<&'a str, usize> =
            std::collections::HashMap::new();
        for (name, decl) in decls {
            match by_name.get(name.text.as_str()).map(|&i| &items[i]) {
                Some((first, _)) => checker.report(
                    Diagnostic::new(
                        Code::Duplicate,
                        name.span,
                        format!("{kind} `{}` is declared twice", name.text),
                    )
                    .with_label(format!("a second {kind} named `{}`", name.text))
                    .with_secondary(first.span, "first declared here")
                    .with_help(format!("rename one of them; {kind} names must be unique")),
                ),
                None => {
                    by_name.insert(name.text.as_str(), items.len());
                    items.push((name, decl));
                }
            }
        }
        Declared { items, by_name }
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.items.iter().map(|(n, _)| n.text.as_str())
    }

    fn iter(&self) -> impl Iterator<Item = (usize, &'a Name, &'a T)> + '_ {
        self.items.iter().enumerate().map(|(i, (n, d))| (i, *n, *d))
    }
}

impl<'a> Checker<'a> {
    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Reports `name` as unknown among `known`, with a did-you-mean.
    fn unknown<'k>(
        &mut self,
        code: Code,
        kind: &str,
        name: &Name,
        known: impl IntoIterator<Item = &'k str> + Clone,
    ) {
        let help = did_you_mean(&name.text, known.clone()).or_else(|| {
            let list: Vec<_> = known.into_iter().map(|k| format!("`{k}`")).collect();
            match list.len() {
                0 => Some(format!("this file declares no {kind}")),
                1..=8 => Some(format!("declared: {}", list.join(", "))),
                _ => None,
            }
        });
        self.report(
            Diagnostic::new(code, name.span, format!("unknown {kind} `{}`", name.text))
                .with_label(format!("no {kind} has this name"))
                .with_help_opt(help),
        );
    }

    fn plan(&mut self, ast: &'a Ast) -> Plan {
        let mut pipeline_name: Option<&Name> = None;
        for decl in &ast.declarations {
            if let Declaration::Pipeline(name) = decl {
                match pipeline_name {
                    Some(first) => self.report(
                        Diagnostic::new(Code::Duplicate, name.span, "the pipeline is named twice")
                            .with_secondary(first.span, "first named here"),
                    ),
                    None => pipeline_name = Some(name),
                }
            }
        }
        let name = match pipeline_name {
            Some(name) => {
                self.check_kafka_name(name, "pipeline name");
                name.text.clone()
            }
            None => self.source.stem().to_string(),
        };

        let schemas = Declared::collect(
            self,
            "schema",
            ast.declarations.iter().filter_map(|d| match d {
                Declaration::Schema(s) => Some((&s.name, s)),
                _ => None,
            }),
        );
        let topics = Declared::collect(
            self,
            "topic",
            ast.declarations.iter().filter_map(|d| match d {
                Declaration::Topic(t) => Some((&t.name, t)),
                _ => None,
            }),
        );
        let sinks = Declared::collect(
            self,
            "sink",
            ast.declarations.iter().filter_map(|d| match d {
                Declaration::Sink(s) => Some((&s.name, s)),
                _ => None,
            }),
        );

        let kafka = self.kafka(ast);
        let plan_schemas: Vec<plan::Schema> = schemas
            .iter()
            .map(|(_, _, decl)| self.schema(decl))
            .collect();
        // Duplicate schemas are still checked inside, then left out.
        for decl in ast.declarations.iter().filter_map(|d| match d {
            Declaration::Schema(s) => Some(s),
            _ => None,
        }) {
            if !schemas
                .items
                .iter()
                .any(|(_, kept)| std::ptr::eq(*kept, decl))
            {
                self.schema(decl);
            }
        }
        // Topics and sinks stay aligned with their declarations (`None` where
        // one could not be resolved, which always comes with an error), so
        // that indices into them are the indices the plan will use.
        let plan_topics: Vec<Option<plan::Topic>> = topics
            .iter()
            .map(|(_, _, decl)| self.topic(decl, &schemas, &plan_schemas))
            .collect();
        let scope = Scope {
            schemas: &plan_schemas,
            topics: &plan_topics,
        };

        let endpoints = self.endpoints(ast, &topics, &scope);
        let plan_sinks: Vec<Option<plan::Sink>> = sinks
            .iter()
            .map(|(_, _, decl)| self.sink(decl, &topics, &scope))
            .collect();
        // Each sink looks at the endpoints of its own topic only.
        let mut writers: std::collections::BTreeMap<usize, Vec<&plan::Endpoint>> =
            std::collections::BTreeMap::new();
        for endpoint in &endpoints {
            writers
                .entry(endpoint.topic.index)
                .or_default()
                .push(endpoint);
        }
        for ((_, _, decl), sink) in sinks.iter().zip(&plan_sinks) {
            if let Some(sink) = sink {
                let of_topic = writers
                    .get(&sink.topic.index)
                    .map_or(&[][..], Vec::as_slice);
                self.check_reachable(sink, decl, of_topic, &scope);
            }
        }
        let plan_sinks: Vec<plan::Sink> = plan_sinks.into_iter().flatten().collect();
        let (dead_letters, dead_letters_span) = self.dead_letters(ast);
        self.places.push(storage::Place {
            owner: "the dead-letter table".to_string(),
            role: "files",
            location: dead_letters.path.clone(),
            span: dead_letters_span,
        });
        self.check_storage();
        let tables = self.tables(ast, &sinks, &plan_sinks, &dead_letters);
        let tests = self.tests(&test::Built {
            ast,
            topics: &topics,
            scope: &scope,
            endpoints: &endpoints,
            sinks: &plan_sinks,
            tables: &tables,
            dead_letters: &dead_letters,
        });
        let plan_topics = plan_topics.into_iter().flatten().collect();

        Plan {
            name,
            kafka,
            schemas: plan_schemas,
            topics: plan_topics,
            endpoints,
            sinks: plan_sinks,
            tables,
            dead_letters,
            tests,
            _checked: Checked,
        }
    }

    /// Kafka accepts topic names, group ids and client ids of `[A-Za-z0-9._-]`.
    fn check_kafka_name(&mut self, name: &Name, what: &str) {
        let bad = name
            .text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
        if name.text.is_empty() || name.text == "." || name.text == ".." || bad.is_some() {
            let found = bad.map_or("this name".to_string(), |c| format!("`{c}`"));
            self.report(
                Diagnostic::new(
                    Code::BadTopic,
                    name.span,
                    format!("`{}` is not a valid {what} for Kafka", name.text),
                )
                .with_label(format!("Kafka rejects {found} here"))
                .with_help("Kafka names are letters, digits, `.`, `_` and `-`"),
            );
        } else if name.text.len() > 249 {
            self.report(
                Diagnostic::new(Code::BadTopic, name.span, format!("the {what} is too long"))
                    .with_label(format!("{} characters; Kafka allows 249", name.text.len())),
            );
        }
    }
}

/// Resolved schemas and topics, for the checks that need them.
struct Scope<'p> {
    schemas: &'p [plan::Schema],
    topics: &'p [Option<plan::Topic>],
}

impl Scope<'_> {
    /// The schema of the `index`-th declared topic, if it resolved.
    fn topic_schema(&self, index: usize) -> Option<&plan::Schema> {
        let topic = self.topics.get(index)?.as_ref()?;
        Some(&self.schemas[topic.schema.index])
    }
}
