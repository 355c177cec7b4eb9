//! `safemig log`: the audit trail.

use safemig_project::audit::{self, AuditRecord};

use crate::cli::LogArgs;
use crate::context::{CliError, Context};
use crate::report::{self, human};

pub fn run(ctx: &Context, args: &LogArgs) -> Result<i32, CliError> {
    let (source, records) = if ctx.explicit_url().is_some() && !args.local {
        let target = ctx.target()?;
        let mut client = target.connect()?;
        let records = safemig_pg::history::read_audit(&mut client, args.limit as i64)?;
        (format!("safemig.audit in {}", target.display()), records)
    } else {
        let mut records = audit::read(&ctx.audit_file())?;
        let skip = records.len().saturating_sub(args.limit);
        records.drain(..skip);
        (ctx.audit_file().display().to_string(), records)
    };
    if ctx.json() {
        report::print_json(&serde_json::json!({ "source": source, "records": records }));
        return Ok(0);
    }
    println!("{} {source}", human::bold("audit trail"));
    if records.is_empty() {
        println!("  (empty)");
    }
    for r in &records {
        print_record(r);
    }
    Ok(0)
}

fn print_record(r: &AuditRecord) {
    let result = match r.result.as_str() {
        "ok" | "applied" | "dry-run" => human::green(&r.result),
        _ => human::red(&r.result),
    };
    println!(
        "  {}  {:<8} {:<12} {}  {}",
        r.at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.command,
        result,
        r.actor,
        human::dim(r.database.as_deref().unwrap_or(""))
    );
    if let Some(summary) = r.details.get("summary").and_then(|s| s.as_str()) {
        println!("      {}", human::dim(summary));
    }
    for line in what(&r.details) {
        println!("      {line}");
    }
}

/// What a record was about, for people: the migrations with their results, the
/// backup made or used, the tables restored.
fn what(details: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    for m in details["migrations"].as_array().into_iter().flatten() {
        let (Some(version), Some(result)) = (text(&m["version"]), text(&m["result"])) else {
            continue;
        };
        let name = text(&m["name"]).unwrap_or_default();
        let reason = text(&m["reason"])
            .map(|r| format!(": {}", r.lines().next().unwrap_or_default()))
            .unwrap_or_default();
        out.push(format!("{version} {name}  {result}{reason}"));
    }
    // migrate: what it did about a backup (a sentence); backup create / restore: which backup.
    if let Some(b) = text(&details["backup"]) {
        out.push(if b.contains(' ') {
            b
        } else {
            format!("backup {b}")
        });
    }
    if let Some(id) = text(&details["id"]) {
        out.push(format!("backup {id}"));
    }
    if let Some(path) = text(&details["path"]) {
        out.push(path);
    }
    for t in details["tables"].as_array().into_iter().flatten() {
        if let (Some(table), Some(after)) = (text(&t["table"]), t["rows_after"].as_i64()) {
            out.push(format!("restored {table}: {after} rows"));
        }
    }
    if let Some(failed) = details["failed_checks"].as_i64().filter(|n| *n > 0) {
        out.push(format!("{failed} check(s) failed"));
    }
    out
}
