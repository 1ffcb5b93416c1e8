//! `pipec lsp` as editors drive it: JSON-RPC over stdio (a client written
//! here, message by message), and Neovim's built-in LSP client, headless.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: mpsc::Receiver<Value>,
    next_id: i64,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pipec"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("pipec lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || read_messages(stdout, sender));
        let mut client = Client {
            child,
            stdin,
            messages,
            next_id: 1,
        };
        let init = client.request(
            "initialize",
            json!({ "processId": null, "rootUri": null, "capabilities": {} }),
        );
        assert_eq!(init["capabilities"]["hoverProvider"], true, "{init}");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// The result of a request; notifications meanwhile are dropped.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.next();
            if message["id"] == id {
                assert!(message["error"].is_null(), "{method}: {message}");
                return message["result"].clone();
            }
        }
    }

    fn next(&mut self) -> Value {
        self.messages
            .recv_timeout(Duration::from_secs(20))
            .expect("pipec lsp answers within 20 s")
    }

    /// The next diagnostics published for the document.
    fn diagnostics(&mut self) -> Vec<Value> {
        loop {
            let message = self.next();
            if message["method"] == "textDocument/publishDiagnostics" {
                return message["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }
}

fn read_messages(stdout: ChildStdout, sender: mpsc::Sender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length: ") {
                length = value.parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.expect("a Content-Length header")];
        reader.read_exact(&mut body).unwrap();
        if sender.send(serde_json::from_slice(&body).unwrap()).is_err() {
            return;
        }
    }
}

const URI: &str = "file:///work/shop.pipe";

fn seed() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/game_events.pipe"),
    )
    .unwrap()
}

/// The LSP position (0-based line, UTF-16 column) of `needle` plus `shift`.
fn position_of(text: &str, needle: &str, shift: usize) -> Value {
    let offset = text.find(needle).unwrap_or_else(|| panic!("{needle}")) + shift;
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({ "line": line, "character": column })
}

fn at(text: &str, needle: &str, shift: usize) -> Value {
    json!({ "textDocument": { "uri": URI }, "position": position_of(text, needle, shift) })
}

#[test]
fn an_editor_session_over_json_rpc() {
    let mut client = Client::start();
    let good = seed();
    let broken = good.replacen("schema     game_event", "schema     game_evnt", 1);
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": URI, "languageId": "pipec", "version": 1, "text": broken } }),
    );
    let diagnostics = client.diagnostics();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let diagnostic = &diagnostics[0];
    assert_eq!(diagnostic["code"], "E0101");
    assert_eq!(diagnostic["severity"], 1);
    assert!(diagnostic["message"]
        .as_str()
        .unwrap()
        .contains("unknown schema `game_evnt`"));
    assert!(diagnostic["message"]
        .as_str()
        .unwrap()
        .contains("help: did you mean `game_event`?"));
    let start = position_of(&broken, "game_evnt\n", 0);
    assert_eq!(diagnostic["range"]["start"], start);
    assert_eq!(
        diagnostic["range"]["end"]["character"],
        start["character"].as_u64().unwrap() + 9
    );

    // The fix: an empty list.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": URI, "version": 2 }, "contentChanges": [{ "text": good }] }),
    );
    assert_eq!(client.diagnostics(), Vec::<Value>::new());
    let text = good;

    // Hover: a field's type, a sink's filter, a table's DDL.
    let hover = client.request("textDocument/hover", at(&text, "User_Agent: string?", 2));
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(
        value.contains("User_Agent: string?") && value.contains("`User-Agent`"),
        "{value}"
    );
    let hover = client.request(
        "textDocument/hover",
        at(&text, "table default.guild_joins", 16),
    );
    assert!(hover["contents"]["value"]
        .as_str()
        .unwrap()
        .contains("CREATE EXTERNAL TABLE"));

    // Definition: from a sink's `from events` to the topic.
    let definition = client.request(
        "textDocument/definition",
        at(&text, "from       events", 12),
    );
    assert_eq!(
        definition["range"]["start"],
        position_of(&text, "topic events", 6)
    );

    // References of the topic: three endpoints, two sinks, three test messages.
    let mut params = at(&text, "topic events", 7);
    params["context"] = json!({ "includeDeclaration": true });
    let references = client.request("textDocument/references", params);
    assert_eq!(
        references.as_array().unwrap().len(),
        1 + 3 + 2 + 3,
        "{references:#}"
    );

    // Completion inside `where`: the schema's fields and the functions.
    let typing = text.replacen(
        "where      event_type == \"join_guild\"",
        "where      event_type == \"join_guild\" and ",
        1,
    );
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": URI, "version": 3 }, "contentChanges": [{ "text": typing }] }),
    );
    client.diagnostics();
    let completion = client.request(
        "textDocument/completion",
        at(&typing, "\"join_guild\" and ", "\"join_guild\" and ".len()),
    );
    let labels: Vec<&str> = completion
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    for expected in ["Host", "Accept", "event_type", "starts_with"] {
        assert!(labels.contains(&expected), "{expected}: {labels:?}");
    }
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": URI, "version": 4 }, "contentChanges": [{ "text": text }] }),
    );
    client.diagnostics();

    // Rename the field `Host` everywhere, tests included.
    let mut params = at(&text, "Host:       string?", 0);
    params["newName"] = json!("hostname");
    let edit = client.request("textDocument/rename", params);
    let edits = edit["changes"][URI].as_array().unwrap();
    let uses = text.matches("Host =").count() + 1 + text.matches("Host       =").count();
    assert!(
        edits.len() >= uses,
        "{} edits for {uses} uses: {edit:#}",
        edits.len()
    );
    assert!(edits.iter().all(|e| e["newText"] == "hostname"));

    // The outline and a formatting answer (none needed for the seed).
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": URI } }),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.starts_with(&["game_event", "events", "GET /"]),
        "{names:?}"
    );
    let formatting = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(formatting, json!([]), "the seed is already formatted");

    client.request("shutdown", Value::Null);
    client.notify("exit", Value::Null);
    let status = client.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// Neovim (Debian's, 0.7 or later), headless, with its built-in LSP client
/// attached to `pipec lsp`, reads a diagnostic and a hover from a file.
#[test]
fn neovim_shows_a_diagnostic_and_a_hover() {
    if Command::new("nvim").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("PIPEC_REQUIRE_EDITOR").is_none(),
            "PIPEC_REQUIRE_EDITOR is set but nvim is missing"
        );
        eprintln!("skipped: no nvim (apt-get install neovim)");
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("neovim");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("shop.pipe");
    std::fs::write(
        &file,
        seed().replacen("schema     game_event", "schema     game_evnt", 1),
    )
    .unwrap();
    let out = dir.join("result.json");
    let script = dir.join("client.lua");
    std::fs::write(
        &script,
        format!(
            r#"
local out = {{}}
vim.cmd('edit ' .. vim.fn.fnameescape({file:?}))
local client = vim.lsp.start_client({{ name = 'pipec', cmd = {{ {pipec:?}, 'lsp' }}, root_dir = {dir:?} }})
vim.lsp.buf_attach_client(0, client)
vim.wait(15000, function() return #vim.diagnostic.get(0) > 0 end, 50)
local diagnostics = vim.diagnostic.get(0)
out.diagnostics = {{}}
for _, d in ipairs(diagnostics) do
  table.insert(out.diagnostics, {{ line = d.lnum, col = d.col, message = d.message, code = d.code }})
end
-- Hover on the field `User_Agent` (line and column are 0-based).
local line = vim.fn.search('User_Agent: string?') - 1
local params = {{ textDocument = {{ uri = vim.uri_from_bufnr(0) }}, position = {{ line = line, character = 4 }} }}
local replies = vim.lsp.buf_request_sync(0, 'textDocument/hover', params, 10000) or {{}}
for _, reply in pairs(replies) do
  if reply.result then out.hover = reply.result.contents.value end
end
vim.fn.writefile({{ vim.fn.json_encode(out) }}, {out:?})
vim.lsp.stop_client(client)
vim.cmd('qa!')
"#,
            file = file.display().to_string(),
            pipec = env!("CARGO_BIN_EXE_pipec"),
            dir = dir.display().to_string(),
            out = out.display().to_string(),
        ),
    )
    .unwrap();
    let run = Command::new("timeout")
        .args(["60", "nvim", "--headless", "-u", "NONE", "-i", "NONE", "-c"])
        .arg(format!("luafile {}", script.display()))
        .output()
        .expect("nvim runs");
    let result = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        panic!(
            "nvim wrote no result ({:?}): {}{}",
            run.status,
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    let result: Value = serde_json::from_str(&result).unwrap();
    let diagnostic = &result["diagnostics"][0];
    assert_eq!(diagnostic["code"], "E0101", "{result:#}");
    assert!(diagnostic["message"]
        .as_str()
        .unwrap()
        .contains("unknown schema `game_evnt`"));
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text.lines().position(|l| l.contains("game_evnt")).unwrap();
    assert_eq!(diagnostic["line"], line, "{result:#}");
    // The file has an error, so the hover names the field without details.
    let hover = result["hover"].as_str().unwrap_or_default();
    assert!(hover.contains("field `User_Agent`"), "{result:#}");
    println!("neovim: {result}");
}

/// The editors' syntax grammar (TextMate, under `editors/vscode/`) names
/// every keyword the language has: a keyword added to `grammar.pest`
/// without it fails here.
#[test]
fn the_textmate_grammar_highlights_every_keyword_of_the_language() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let grammar: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("editors/vscode/syntaxes/pipec.tmLanguage.json"))
            .unwrap(),
    )
    .expect("the grammar is JSON");
    assert_eq!(grammar["scopeName"], "source.pipec");
    let repository = &grammar["repository"];
    let patterns = format!(
        "{} {}",
        repository["keyword"]["match"], repository["operator"]
    );
    let pest = std::fs::read_to_string(root.join("compiler/src/grammar.pest")).unwrap();
    let keywords: Vec<&str> = pest
        .lines()
        .filter(|l| l.trim_start().starts_with("kw_"))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    assert!(keywords.len() > 40, "{keywords:?}");
    for keyword in keywords {
        assert!(
            patterns.contains(&format!("|{keyword}|"))
                || patterns.contains(&format!("({keyword}|"))
                || patterns.contains(&format!("|{keyword})")),
            "`{keyword}` is not highlighted by editors/vscode/syntaxes/pipec.tmLanguage.json"
        );
    }
    let package: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("editors/vscode/package.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        package["contributes"]["grammars"][0]["path"],
        "./syntaxes/pipec.tmLanguage.json"
    );
}
