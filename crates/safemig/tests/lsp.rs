//! `safemig lsp`, driven over JSON-RPC on stdio as an editor drives it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn send(stdin: &mut impl Write, message: serde_json::Value) {
    let body = message.to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    stdin.flush().unwrap();
}

fn receive(reader: &mut impl BufRead) -> serde_json::Value {
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The next message that satisfies `want`, skipping others (log messages, ...).
fn receive_until(
    reader: &mut impl BufRead,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..20 {
        let m = receive(reader);
        if want(&m) {
            return m;
        }
    }
    panic!("no such message");
}

#[test]
fn the_language_server_diagnoses_hovers_and_offers_a_fix() {
    let project = tempfile::tempdir().unwrap();
    let migrations = project.path().join("supabase/migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    // On disk: the function a trigger in the open file uses, created by a later migration.
    std::fs::write(
        migrations.join("20250102000000_function.sql"),
        "CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n",
    )
    .unwrap();
    let open = migrations.join("20250101000000_trigger.sql");
    let text = "CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();\nDROP TABLE public.orders;\n";
    std::fs::write(&open, "").unwrap();
    let uri = format!("file://{}", open.display());

    let mut child = Command::new(env!("CARGO_BIN_EXE_safemig"))
        .arg("lsp")
        .current_dir(project.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());

    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
    );
    let init = receive_until(&mut reader, |m| m["id"] == 1);
    assert_eq!(
        init["result"]["capabilities"]["hoverProvider"], true,
        "{init}"
    );
    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    );
    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": uri, "languageId": "sql", "version": 1, "text": text}}}),
    );
    let published = receive_until(&mut reader, |m| {
        m["method"] == "textDocument/publishDiagnostics"
    });
    let diagnostics = published["params"]["diagnostics"]
        .as_array()
        .unwrap()
        .clone();
    let codes: Vec<&str> = diagnostics
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"use-before-create"),
        "the order bug, across files: {codes:?}"
    );
    assert!(
        codes.contains(&"drop-table"),
        "the risky statement: {codes:?}"
    );
    let drop = diagnostics
        .iter()
        .find(|d| d["code"] == "drop-table")
        .unwrap()
        .clone();
    assert_eq!(drop["severity"], 1, "risky is an error: {drop}");
    assert_eq!(drop["range"]["start"]["line"], 1);

    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": uri}, "position": {"line": 1, "character": 3}}}),
    );
    let hover = receive_until(&mut reader, |m| m["id"] == 2);
    assert!(
        hover["result"]["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("drop-table"),
        "{hover}"
    );

    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "textDocument/codeAction", "params": {
        "textDocument": {"uri": uri}, "range": drop["range"], "context": {"diagnostics": [drop]}}}),
    );
    let actions = receive_until(&mut reader, |m| m["id"] == 3);
    let edit = actions["result"][0]["edit"]["changes"][&uri][0]["newText"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        edit.starts_with("-- safemig:ignore drop-table"),
        "{actions}"
    );

    // Fixed in the buffer: the diagnostic goes.
    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": "ALTER TABLE public.orders ADD COLUMN note text;\n"}]}}),
    );
    let published = receive_until(&mut reader, |m| {
        m["method"] == "textDocument/publishDiagnostics"
    });
    assert!(!published.to_string().contains("drop-table"), "{published}");

    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "id": 4, "method": "shutdown"}),
    );
    receive_until(&mut reader, |m| m["id"] == 4);
    send(
        &mut stdin,
        serde_json::json!({"jsonrpc": "2.0", "method": "exit"}),
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
