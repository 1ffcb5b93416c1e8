//! `pipec lsp`: a language server on standard input and output, for any
//! editor with an LSP client. JSON-RPC and the protocol's handshake are
//! `lsp-server`'s (rust-analyzer's scaffold); the answers are the compiler's
//! (`pipec_compiler::ide`, `check`, `format`).
//!
//! Documents are synced whole on every change: pipeline files are small,
//! and a full check of one takes well under a millisecond per hundred
//! lines. A document that does not parse keeps the index of its last
//! version that did, so completion and navigation keep working while a
//! statement is half typed.

use crate::profile::{Profile, ProfileEnvironment};
use crate::Outcome;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    PrepareRenameRequest, References, Rename, Request as _,
};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionOptions, CompletionResponse,
    DiagnosticRelatedInformation, DiagnosticSeverity, DocumentSymbol, DocumentSymbolResponse,
    GotoDefinitionResponse, Hover, HoverContents, HoverProviderCapability, Location, MarkupContent,
    MarkupKind, NumberOrString, OneOf, Position, PrepareRenameResponse, PublishDiagnosticsParams,
    Range, RenameOptions, ServerCapabilities, SymbolKind, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextEdit, Uri, WorkspaceEdit,
};
use pipec_compiler::ide::complete::{complete, CompletionKind};
use pipec_compiler::ide::{self, hover::hover, Index, SymbolKind as Kind};
use pipec_compiler::{compile, parse, Diagnostic, Plan, Severity, Source, Span};
use std::collections::HashMap;

pub fn run() -> Outcome {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![" ".into(), "{".into(), ",".into()]),
            ..CompletionOptions::default()
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        ..ServerCapabilities::default()
    };
    let capabilities = serde_json::to_value(capabilities).expect("capabilities serialise");
    if let Err(error) = connection.initialize(capabilities) {
        eprintln!("error: the editor did not initialise the server: {error}");
        return Outcome::Environment;
    }
    let mut server = Server {
        connection: &connection,
        documents: HashMap::new(),
    };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request).unwrap_or(true) {
                    break;
                }
                server.request(request);
            }
            Message::Notification(notification) => server.notification(notification),
            Message::Response(_) => {}
        }
    }
    drop(server);
    drop(connection);
    match io_threads.join() {
        Ok(()) => Outcome::Success,
        Err(error) => {
            eprintln!("error: {error}");
            Outcome::Environment
        }
    }
}

/// One open file, analysed.
struct Document {
    source: Source,
    /// From the last version that parsed.
    index: Index,
    /// When the file checks.
    plan: Option<Plan>,
}

struct Server<'c> {
    connection: &'c Connection,
    documents: HashMap<String, Document>,
}

impl Server<'_> {
    fn notification(&mut self, notification: Notification) {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(
                    notification.params,
                ) {
                    self.update(params.text_document.uri, params.text_document.text);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(
                    notification.params,
                ) {
                    // Full sync: the last change is the whole text.
                    if let Some(change) = params.content_changes.into_iter().last() {
                        self.update(params.text_document.uri, change.text);
                    }
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(
                    notification.params,
                ) {
                    self.documents.remove(params.text_document.uri.as_str());
                    self.publish(params.text_document.uri, Vec::new());
                }
            }
            _ => {}
        }
    }

    /// Analyses a new version and publishes its diagnostics.
    fn update(&mut self, uri: Uri, text: String) {
        let name = uri
            .as_str()
            .strip_prefix("file://")
            .unwrap_or(uri.as_str())
            .to_string();
        let source = Source::new(name, text);
        let previous = self.documents.remove(uri.as_str());
        let (index, plan, diagnostics) = match parse(&source) {
            Err(errors) => (
                previous.map(|d| d.index).unwrap_or_default(),
                None,
                errors.0,
            ),
            Ok(ast) => {
                let index = ide::index(&ast);
                let profile = Profile::default();
                match compile(&source, &ProfileEnvironment { profile: &profile }) {
                    Ok(checked) => (index, Some(checked.plan), checked.warnings.0),
                    Err(errors) => (index, None, errors.0),
                }
            }
        };
        let lsp_diagnostics = diagnostics
            .iter()
            .map(|d| to_lsp_diagnostic(&source, &uri, d))
            .collect();
        self.documents.insert(
            uri.as_str().to_string(),
            Document {
                source,
                index,
                plan,
            },
        );
        self.publish(uri, lsp_diagnostics);
    }

    fn publish(&self, uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>) {
        let params = PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        };
        let notification = Notification::new(PublishDiagnostics::METHOD.into(), params);
        let _ = self.connection.sender.send(notification.into());
    }

    fn request(&mut self, request: Request) {
        let id = request.id.clone();
        let result = self.answer(request);
        let response = match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        };
        let _ = self.connection.sender.send(response.into());
    }

    fn answer(&mut self, request: Request) -> Result<serde_json::Value, (ErrorCode, String)> {
        let invalid = |e: serde_json::Error| (ErrorCode::InvalidParams, e.to_string());
        match request.method.as_str() {
            HoverRequest::METHOD => {
                let params: lsp_types::HoverParams =
                    serde_json::from_value(request.params).map_err(invalid)?;
                let at = params.text_document_position_params;
                let Some((doc, offset)) = self.at(&at.text_document.uri, at.position) else {
                    return Ok(serde_json::Value::Null);
                };
                let answer =
                    hover(&doc.index, doc.plan.as_ref(), offset).map(|(span, text)| Hover {
                        contents: HoverContents::Markup(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: text,
                        }),
                        range: Some(range(&doc.source, span)),
                    });
                json(answer)
            }
            GotoDefinition::METHOD => {
                let params: lsp_types::GotoDefinitionParams =
                    serde_json::from_value(request.params).map_err(invalid)?;
                let at = params.text_document_position_params;
                let uri = at.text_document.uri.clone();
                let Some((doc, offset)) = self.at(&uri, at.position) else {
                    return Ok(serde_json::Value::Null);
                };
                let answer = doc.index.symbol_at(offset).map(|symbol| {
                    GotoDefinitionResponse::Scalar(Location {
                        uri: uri.clone(),
                        range: range(&doc.source, symbol.definition),
                    })
                });
                json(answer)
            }
            References::METHOD => {
                let params: lsp_types::ReferenceParams =
                    serde_json::from_value(request.params).map_err(invalid)?;
                let at = params.text_document_position;
                let uri = at.text_document.uri.clone();
                let Some((doc, offset)) = self.at(&uri, at.position) else {
                    return Ok(serde_json::Value::Null);
                };
                let answer: Option<Vec<Location>> = doc.index.symbol_at(offset).map(|symbol| {
                    let declaration = params
                        .context
                        .include_declaration
                        .then_some(symbol.definition);
                    declaration
                        .into_iter()
                        .chain(symbol.references.iter().copied())
                        .map(|span| Location {
                            uri: uri.clone(),
                            range: range(&doc.source, span),
                        })
                        .collect()
                });
                json(answer)
            }
            Completion::METHOD => {
                let params: lsp_types::CompletionParams =
                    serde_json::from_value(request.params).map_err(invalid)?;
                let at = params.text_document_position;
                let Some((doc, offset)) = self.at(&at.text_document.uri, at.position) else {
                    return Ok(serde_json::Value::Null);
                };
                let items: Vec<CompletionItem> =
                    complete(doc.source.text.as_str(), &doc.index, offset)
                        .into_iter()
                        .map(|c| CompletionItem {
                            label: c.label,
                            kind: Some(match c.kind {
                                CompletionKind::Keyword => CompletionItemKind::KEYWORD,
                                CompletionKind::Field => CompletionItemKind::FIELD,
                                CompletionKind::Name => CompletionItemKind::REFERENCE,
                                CompletionKind::Function => CompletionItemKind::FUNCTION,
                            }),
                            detail: c.detail,
                            ..CompletionItem::default()
                        })
                        .collect();
                json(CompletionResponse::Array(items))
            }
            Formatting::METHOD => {
                let params: lsp_types::DocumentFormattingParams =
                    serde_json::from_value(request.params).map_err(invalid)?;
                let Some(doc) = self.documents.get(params.text_document.uri.as_str()) else {
                    return Ok(serde_json::Value::Null);
                };
                // A file that does not parse is left as it is.
                let Ok(formatted) = pipec_compiler::format::format(&doc.source) else {
                    return Ok(serde_json::Value::Null);
                };
                let whole = Span::new(0, doc.source.text.as_str().len());
                let edits = if formatted == doc.source.text {
                    Vec::new()
                } else {
                    vec![TextEdit {
                        range: range(&doc.source, whole),
                        new_text: formatted,
                    }]
                };
                json(edits)
            }
            DocumentSymbolRequest::METHOD => {
                let params: lsp_types::DocumentSymbolParams =
                    serde_json::from_value(request.params).map_err(invalid)?;
                let Some(doc) = self.documents.get(params.text_document.uri.as_str()) else {
                    return Ok(serde_json::Value::Null);
                };
                json(DocumentSymbolResponse::Nested(outline(doc)))
            }
            PrepareRenameRequest::METHOD => {
                let params: lsp_types::TextDocumentPositionParams =
                    serde_json::from_value(request.params).map_err(invalid)?;
                let Some((doc, offset)) = self.at(&params.text_document.uri, params.position)
                else {
                    return Ok(serde_json::Value::Null);
                };
                let answer = doc
                    .index
                    .symbol_at(offset)
                    .filter(|s| s.kind != Kind::Endpoint)
                    .and_then(|symbol| {
                        std::iter::once(symbol.definition)
                            .chain(symbol.references.iter().copied())
                            .find(|s| s.start <= offset && offset <= s.end)
                    })
                    .map(|span| PrepareRenameResponse::Range(range(&doc.source, span)));
                json(answer)
            }
            Rename::METHOD => {
                let params: lsp_types::RenameParams =
                    serde_json::from_value(request.params).map_err(invalid)?;
                let at = params.text_document_position;
                let uri = at.text_document.uri.clone();
                let Some((doc, offset)) = self.at(&uri, at.position) else {
                    return Ok(serde_json::Value::Null);
                };
                let Some(symbol) = doc.index.symbol_at(offset) else {
                    return Ok(serde_json::Value::Null);
                };
                if symbol.kind == Kind::Endpoint {
                    return Err((
                        ErrorCode::InvalidRequest,
                        "an endpoint is named by its method and path: edit them".into(),
                    ));
                }
                let new_name = params.new_name.trim();
                if new_name.is_empty() || new_name.contains('`') || new_name.contains('\n') {
                    return Err((
                        ErrorCode::InvalidParams,
                        format!("`{new_name}` cannot be a name"),
                    ));
                }
                let text = if ide::is_plain_name(new_name) {
                    new_name.to_string()
                } else {
                    format!("`{new_name}`")
                };
                let edits: Vec<TextEdit> = std::iter::once(symbol.definition)
                    .chain(symbol.references.iter().copied())
                    .map(|span| TextEdit {
                        range: range(&doc.source, span),
                        new_text: text.clone(),
                    })
                    .collect();
                // `Uri` hashes by its text; lsp-types keys `changes` by it.
                #[allow(clippy::mutable_key_type)]
                let changes = HashMap::from([(uri, edits)]);
                json(WorkspaceEdit {
                    changes: Some(changes),
                    ..WorkspaceEdit::default()
                })
            }
            other => Err((
                ErrorCode::MethodNotFound,
                format!("pipec lsp does not answer `{other}`"),
            )),
        }
    }

    /// The document and the byte offset of an LSP position in it.
    fn at(&self, uri: &Uri, position: Position) -> Option<(&Document, usize)> {
        let doc = self.documents.get(uri.as_str())?;
        Some((doc, offset(&doc.source, position)))
    }
}

fn json(value: impl serde::Serialize) -> Result<serde_json::Value, (ErrorCode, String)> {
    serde_json::to_value(value).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

/// Schemas with their fields, then every other declaration, in file order.
#[allow(deprecated)] // `DocumentSymbol::deprecated` must still be given.
fn outline(doc: &Document) -> Vec<DocumentSymbol> {
    let symbol = |s: &ide::Symbol, children: Option<Vec<DocumentSymbol>>| DocumentSymbol {
        name: s.name.clone(),
        detail: s.container.clone(),
        kind: match s.kind {
            Kind::Schema => SymbolKind::STRUCT,
            Kind::Field => SymbolKind::FIELD,
            Kind::Topic => SymbolKind::EVENT,
            Kind::Endpoint => SymbolKind::INTERFACE,
            Kind::Sink => SymbolKind::FUNCTION,
            Kind::Table => SymbolKind::CLASS,
            Kind::Test => SymbolKind::METHOD,
        },
        tags: None,
        deprecated: None,
        range: range(&doc.source, s.definition),
        selection_range: range(&doc.source, s.definition),
        children,
    };
    let mut out: Vec<DocumentSymbol> = Vec::new();
    for s in doc.index.symbols.iter().filter(|s| s.kind != Kind::Field) {
        let children = (s.kind == Kind::Schema).then(|| {
            doc.index
                .fields_of_schema(&s.name)
                .into_iter()
                .map(|f| symbol(f, None))
                .collect()
        });
        out.push(symbol(s, children));
    }
    out.sort_by_key(|s| (s.range.start.line, s.range.start.character));
    out
}

fn to_lsp_diagnostic(source: &Source, uri: &Uri, d: &Diagnostic) -> lsp_types::Diagnostic {
    let primary = d
        .labels
        .iter()
        .find(|l| l.primary)
        .or(d.labels.first())
        .map_or(Span::new(0, 0), |l| l.span);
    let mut message = d.message.clone();
    for help in &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter(|l| !l.primary)
        .map(|l| DiagnosticRelatedInformation {
            location: Location {
                uri: uri.clone(),
                range: range(source, l.span),
            },
            message: l.message.clone(),
        })
        .collect();
    lsp_types::Diagnostic {
        range: range(source, primary),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        source: Some("pipec".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

/// LSP positions count UTF-16 code units within a line.
fn position(source: &Source, offset: usize) -> Position {
    let offset = offset.min(source.text.as_str().len());
    let line = source.line_index(offset);
    let start = source.line_start(line);
    let character = source.text.as_str()[start..offset].encode_utf16().count();
    Position::new(line as u32, character as u32)
}

fn offset(source: &Source, position: Position) -> usize {
    let line = (position.line as usize).min(source.line_count().saturating_sub(1));
    let start = source.line_start(line);
    let text = source.line_text(line);
    let mut units = 0;
    for (index, c) in text.char_indices() {
        if units >= position.character as usize {
            return start + index;
        }
        units += c.len_utf16();
    }
    start + text.len()
}

fn range(source: &Source, span: Span) -> Range {
    Range::new(position(source, span.start), position(source, span.end))
}
