//! `safemig lsp`: a language server over stdio. Diagnostics from `check` for the
//! migration files an editor opens, changes or saves (the cross-file rules
//! included: the migrations folder on disk, with the open buffers in place of
//! their files), hover with the rule's docs, and a code action that records a
//! reviewed finding as a suppression comment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{CodeActionRequest, HoverRequest, Request as _};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams,
    CodeActionProviderCapability, Diagnostic, DiagnosticSeverity, Hover, HoverContents,
    HoverParams, HoverProviderCapability, MarkupContent, MarkupKind, NumberOrString, Position,
    PublishDiagnosticsParams, Range, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextEdit, Uri, WorkspaceEdit,
};
use safemig_analyze::lint::Finding;
use safemig_analyze::Severity;

use crate::context::{project_options, CliError, Context};

pub fn run(ctx: &Context) -> Result<i32, CliError> {
    let (connection, threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        ..Default::default()
    };
    let capabilities =
        serde_json::to_value(capabilities).map_err(|e| CliError::input(e.to_string()))?;
    connection
        .initialize(capabilities)
        .map_err(|e| CliError::input(format!("lsp: the client did not initialize: {e}")))?;
    let mut server = Server {
        ctx,
        open: BTreeMap::new(),
        findings: BTreeMap::new(),
    };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection
                    .handle_shutdown(&request)
                    .map_err(|e| CliError::input(format!("lsp: {e}")))?
                {
                    break;
                }
                let response = server.request(request);
                let _ = connection.sender.send(Message::Response(response));
            }
            Message::Notification(notification) => {
                for published in server.notification(notification) {
                    let _ = connection.sender.send(Message::Notification(published));
                }
            }
            Message::Response(_) => {}
        }
    }
    drop(connection);
    let _ = threads.join();
    Ok(0)
}

struct Server<'a> {
    ctx: &'a Context,
    /// Open buffers: path -> text.
    open: BTreeMap<PathBuf, String>,
    /// The last findings published, per file (for hover and code actions).
    findings: BTreeMap<PathBuf, Vec<Finding>>,
}

fn path_of(uri: &Uri) -> PathBuf {
    let text = uri.as_str();
    let path = text.strip_prefix("file://").unwrap_or(text);
    // Percent-decoding of what editors escape in paths.
    let mut out = Vec::with_capacity(path.len());
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&path[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    PathBuf::from(String::from_utf8_lossy(&out).into_owned())
}

fn uri_of(path: &Path) -> Option<Uri> {
    format!("file://{}", path.display()).parse().ok()
}

impl Server<'_> {
    fn notification(&mut self, n: Notification) -> Vec<Notification> {
        let changed = match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(n.params)
                    .ok()
                    .map(|p| {
                        let path = path_of(&p.text_document.uri);
                        self.open.insert(path.clone(), p.text_document.text);
                        path
                    })
            }
            DidChangeTextDocument::METHOD => {
                serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(n.params)
                    .ok()
                    .and_then(|p| {
                        let path = path_of(&p.text_document.uri);
                        let text = p.content_changes.into_iter().last()?.text;
                        self.open.insert(path.clone(), text);
                        Some(path)
                    })
            }
            DidSaveTextDocument::METHOD => {
                serde_json::from_value::<lsp_types::DidSaveTextDocumentParams>(n.params)
                    .ok()
                    .map(|p| path_of(&p.text_document.uri))
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(n.params)
                {
                    self.open.remove(&path_of(&p.text_document.uri));
                }
                None
            }
            _ => None,
        };
        match changed {
            Some(path) => self.publish(&path),
            None => Vec::new(),
        }
    }

    /// Checks the file's migrations folder (the open buffers in place of their
    /// files) and publishes the diagnostics of `path`.
    fn publish(&mut self, path: &Path) -> Vec<Notification> {
        let folder = path.parent().unwrap_or(Path::new("."));
        let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .filter_map(|p| {
                let text = self
                    .open
                    .get(&p)
                    .cloned()
                    .or_else(|| std::fs::read_to_string(&p).ok())?;
                Some((p, text))
            })
            .collect();
        if !files.iter().any(|(p, _)| p == path) {
            if let Some(text) = self.open.get(path) {
                files.push((path.to_path_buf(), text.clone()));
            }
        }
        files.sort();
        let inputs: Vec<(&Path, Option<String>, &str)> = files
            .iter()
            .map(|(p, text)| (p.as_path(), super::check::version_of(p), text.as_str()))
            .collect();
        let run = safemig_analyze::project::analyse(
            inputs,
            &project_options(&self.ctx.config),
            &safemig_analyze::order::Live::default(),
        );
        let Some(file) = run.files.iter().find(|f| f.path == path) else {
            return Vec::new();
        };
        let findings: Vec<Finding> = file.all_findings().into_iter().cloned().collect();
        let text = files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t.as_str())
            .unwrap_or("");
        let diagnostics = findings.iter().map(|f| diagnostic(text, f)).collect();
        self.findings.insert(path.to_path_buf(), findings);
        let Some(uri) = uri_of(path) else {
            return Vec::new();
        };
        vec![Notification::new(
            PublishDiagnostics::METHOD.to_string(),
            PublishDiagnosticsParams {
                uri,
                diagnostics,
                version: None,
            },
        )]
    }

    fn request(&mut self, r: Request) -> Response {
        match r.method.as_str() {
            HoverRequest::METHOD => {
                let Ok(p) = serde_json::from_value::<HoverParams>(r.params) else {
                    return Response::new_ok(r.id, serde_json::Value::Null);
                };
                let path = path_of(&p.text_document_position_params.text_document.uri);
                let line = p.text_document_position_params.position.line as usize + 1;
                let docs: Vec<String> = self
                    .findings
                    .get(&path)
                    .into_iter()
                    .flatten()
                    .filter(|f| f.line == line)
                    .filter_map(|f| safemig_analyze::rules::doc(&f.rule))
                    .map(|d| {
                        format!(
                            "**{}** ({})\n\n{}\n\n*Why it matters*: {}\n\n*Use instead*:\n```sql\n{}\n```",
                            d.name,
                            d.severity.as_str(),
                            d.what_it_does,
                            d.why_it_matters,
                            d.use_instead
                        )
                    })
                    .collect();
                if docs.is_empty() {
                    return Response::new_ok(r.id, serde_json::Value::Null);
                }
                Response::new_ok(
                    r.id,
                    Hover {
                        contents: HoverContents::Markup(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: docs.join("\n\n---\n\n"),
                        }),
                        range: None,
                    },
                )
            }
            CodeActionRequest::METHOD => {
                let Ok(p) = serde_json::from_value::<CodeActionParams>(r.params) else {
                    return Response::new_ok(r.id, serde_json::Value::Null);
                };
                let uri = p.text_document.uri.clone();
                let actions: Vec<CodeActionOrCommand> = p
                    .context
                    .diagnostics
                    .iter()
                    .filter_map(|d| {
                        let rule = match &d.code {
                            Some(NumberOrString::String(rule)) => rule.clone(),
                            _ => return None,
                        };
                        // The reviewed finding, recorded where the next reader sees it.
                        let at = Position { line: d.range.start.line, character: 0 };
                        let edit = TextEdit {
                            range: Range { start: at, end: at },
                            new_text: format!("-- safemig:ignore {rule} reviewed: <why this is intended>\n"),
                        };
                        let mut changes = std::collections::HashMap::new();
                        changes.insert(uri.clone(), vec![edit]);
                        Some(CodeActionOrCommand::CodeAction(CodeAction {
                            title: format!("safemig: mark `{rule}` as reviewed here (a suppression with its reason)"),
                            kind: Some(CodeActionKind::QUICKFIX),
                            diagnostics: Some(vec![d.clone()]),
                            edit: Some(WorkspaceEdit { changes: Some(changes), ..Default::default() }),
                            ..Default::default()
                        }))
                    })
                    .collect();
                Response::new_ok(r.id, actions)
            }
            _ => Response::new_err(
                r.id,
                lsp_server::ErrorCode::MethodNotFound as i32,
                format!("safemig lsp does not answer {}", r.method),
            ),
        }
    }
}

/// A finding as the editor shows it: on its line, from its column to the line's end.
fn diagnostic(text: &str, f: &Finding) -> Diagnostic {
    let line = f.line.saturating_sub(1) as u32;
    let width = text
        .lines()
        .nth(f.line.saturating_sub(1))
        .map_or(0, |l| l.chars().count()) as u32;
    let start = Position {
        line,
        character: f.column.saturating_sub(1) as u32,
    };
    let end = Position {
        line,
        character: width.max(start.character + 1),
    };
    Diagnostic {
        range: Range { start, end },
        severity: Some(match f.severity {
            Severity::Risky => DiagnosticSeverity::ERROR,
            Severity::Review => DiagnosticSeverity::WARNING,
            Severity::Hint => DiagnosticSeverity::HINT,
        }),
        code: Some(NumberOrString::String(f.rule.clone())),
        source: Some("safemig".into()),
        message: match &f.help {
            Some(help) => format!("{}\nfix: {help}", f.message),
            None => f.message.clone(),
        },
        ..Default::default()
    }
}
