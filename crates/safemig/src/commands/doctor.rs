//! `safemig doctor`: Supabase health checks on a live database. The checks live in
//! `safemig_pg::doctor`; this module gathers the input and renders the report.

use safemig_pg::doctor::{self, Finding, Options, Report, Severity};
use safemig_project::audit::AuditRecord;

use crate::cli::DoctorArgs;
use crate::context::{CliError, Context};
use crate::report::{self, human};

pub fn run(ctx: &Context, args: &DoctorArgs) -> Result<i32, CliError> {
    let dir = ctx.migrations_dir();
    let migrations = if dir.is_dir() {
        Some(ctx.migrations()?)
    } else {
        None
    };
    let target = ctx.target()?;
    let options = Options {
        exposed_schemas: ctx.config.check.exposed_schemas.clone(),
        insert_test: !args.no_insert_test,
    };
    let result = target
        .connect()
        .and_then(|mut client| doctor::run(&mut client, migrations.as_ref(), &options));
    // The local audit trail only: doctor changes nothing in the database, not even safemig's tables.
    let mut record = AuditRecord::new(
        "doctor",
        match &result {
            Ok(r) if r.findings.is_empty() => "ok",
            Ok(_) => "findings",
            Err(_) => "failed",
        },
        match &result {
            Ok(r) => serde_json::json!({
                "summary": summary(r),
                "findings": r.findings.iter().map(|f| serde_json::json!({"check": f.check, "object": f.object})).collect::<Vec<_>>(),
            }),
            Err(e) => serde_json::json!({ "summary": e.to_string() }),
        },
    );
    record.database = Some(target.display());
    record.db_user = Some(target.user().to_string());
    ctx.audit_local(&record);
    let report = result?;
    // Hints (splinter's INFO) are worth knowing, not a failure.
    let code = if report
        .findings
        .iter()
        .any(|f| f.severity >= Severity::Review)
    {
        1
    } else {
        0
    };
    if ctx.json() {
        report::print_json(&serde_json::json!({
            "database": target.display(),
            "findings": report.findings.iter().map(finding_json).collect::<Vec<_>>(),
            "notes": report.notes,
            "summary": summary(&report),
        }));
        return Ok(code);
    }
    println!("{} {}", human::bold("doctor"), target.display());
    for f in &report.findings {
        let label = format!("{}[{}]", f.severity.as_str(), f.check);
        let label = match f.severity {
            Severity::Risky => human::red(&label),
            Severity::Review => human::yellow(&label),
            Severity::Hint => human::dim(&label),
        };
        let mut message = f.message.lines();
        println!("{label} {}", message.next().unwrap_or(""));
        for line in message {
            println!("  {line}");
        }
        match f.splinter {
            Some(id) => println!(
                "  {} {}  {}",
                human::dim("-->"),
                f.object,
                human::dim(&format!("(splinter {id})"))
            ),
            None => println!("  {} {}", human::dim("-->"), f.object),
        }
        println!("  {} fix:", human::dim("="));
        println!("{}", human::indent(&f.fix, 6));
    }
    for note in &report.notes {
        println!("{} {note}", human::dim("note:"));
    }
    let n = report.findings.len();
    if n == 0 {
        println!("{}", human::green("no problems found"));
    } else {
        println!(
            "{}",
            human::bold(&format!(
                "{n} finding{} ({} risky, {} review, {} hint)",
                if n == 1 { "" } else { "s" },
                count(&report, Severity::Risky),
                count(&report, Severity::Review),
                count(&report, Severity::Hint)
            ))
        );
    }
    Ok(code)
}

fn count(report: &Report, severity: Severity) -> usize {
    report
        .findings
        .iter()
        .filter(|f| f.severity == severity)
        .count()
}

fn finding_json(f: &Finding) -> serde_json::Value {
    serde_json::json!({
        "check": f.check,
        "severity": f.severity,
        "level": f.severity.level(),
        "category": f.category,
        "splinter": f.splinter,
        "object": f.object,
        "message": f.message,
        "fix": f.fix,
    })
}

fn summary(report: &Report) -> serde_json::Value {
    serde_json::json!({
        "findings": report.findings.len(),
        "risky": count(report, Severity::Risky),
        "review": count(report, Severity::Review),
        "hint": count(report, Severity::Hint),
        "insert_test": report.insert_test,
    })
}
