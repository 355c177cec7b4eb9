//! `safemig check`: static analysis of migration files with PostgreSQL's own
//! parser. No database needed. `migrate` runs the same analysis first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use safemig_analyze::lint::{Finding, LintOptions};
use safemig_analyze::order::{self, Migration, OrderReport};
use safemig_analyze::{lint_file, Class, FileLint, Severity};
use safemig_project::config::Config;
use safemig_project::migrations::parse_file_name;
use serde::Serialize;

use crate::cli::{CheckArgs, FailOn, Format};
use crate::context::{CliError, Context};
use crate::report::{self, human};

/// One file, analysed.
#[derive(Debug, Clone, Serialize)]
pub struct CheckedFile {
    pub path: PathBuf,
    pub version: Option<String>,
    #[serde(skip)]
    pub file_name: String,
    pub class: Class,
    pub findings: Vec<Finding>,
    pub statements: Vec<safemig_analyze::lint::StatementLint>,
    /// What each statement creates, drops and uses: the parse trees are dropped
    /// as soon as these are taken. Moved into the replay (empty afterwards).
    #[serde(skip)]
    pub steps: Vec<order::Step>,
}

/// The whole analysis of a set of files.
#[derive(Debug, Clone, Default)]
pub struct CheckRun {
    pub files: Vec<CheckedFile>,
    pub order: OrderReport,
    /// Findings about the live database itself (`check --db`).
    pub database: Vec<Finding>,
    /// The database they are about, redacted.
    pub database_name: Option<String>,
}

impl CheckRun {
    pub fn get(&self, version: &str) -> Option<&CheckedFile> {
        self.files
            .iter()
            .find(|f| f.version.as_deref() == Some(version))
    }

    /// The order check proposes, as file names, when the current one is broken.
    pub fn proposed_order(&self) -> Option<Vec<String>> {
        let versioned: Vec<&CheckedFile> =
            self.files.iter().filter(|f| f.version.is_some()).collect();
        self.order
            .proposed_order
            .as_ref()
            .map(|o| o.iter().map(|&i| versioned[i].file_name.clone()).collect())
    }
}

pub fn lint_options(config: &Config) -> LintOptions {
    LintOptions {
        exposed_schemas: config.check.exposed_schemas.clone(),
        ignore: config.check.ignore.iter().cloned().collect(),
        severity: config
            .check
            .severity
            .iter()
            .filter_map(|(rule, s)| Severity::parse(s).map(|s| (rule.clone(), s)))
            .collect(),
    }
}

/// Analyses files given as (path, text), in the order given (versions ascending
/// for a migrations folder): each file through the rules, then the set through
/// the cross-migration replay, whose findings join their files.
pub fn analyse<'a>(
    inputs: impl IntoIterator<Item = (&'a Path, &'a str)>,
    config: &Config,
) -> CheckRun {
    let files = inputs
        .into_iter()
        .map(|(path, sql)| check_file(path.to_path_buf(), sql, &lint_options(config)))
        .collect();
    finish(files, config, &order::Live::default())
}

/// Lints one file and takes what the replay needs. The text and its parse trees
/// are dropped when this returns: what a file leaves behind is its findings and
/// its objects, so memory follows the largest file, not the whole set.
fn check_file(path: PathBuf, sql: &str, options: &LintOptions) -> CheckedFile {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = parse_file_name(&file_name).map(|(v, _)| v);
    let lint = lint_file(sql, options);
    let steps = order::steps_of(&Migration {
        version: "",
        label: "",
        sql,
        statements: &lint.parsed.statements,
    });
    let FileLint {
        class,
        findings,
        statements,
        ..
    } = lint;
    CheckedFile {
        path,
        version,
        file_name,
        class,
        findings,
        statements,
        steps,
    }
}

/// The cross-file findings (duplicate versions, the replay, the live database's
/// own), joined to the files they are about.
fn finish(mut files: Vec<CheckedFile>, config: &Config, live: &order::Live) -> CheckRun {
    let options = lint_options(config);

    // duplicate-version: each file of a pair says which other file shares its version.
    let mut by_version: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        if let Some(v) = &f.version {
            by_version.entry(v.clone()).or_default().push(i);
        }
    }
    for indexes in by_version.values().filter(|list| list.len() > 1) {
        for &i in indexes {
            let others: Vec<String> = indexes
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| files[j].file_name.clone())
                .collect();
            let message = format!(
                "version {} is also used by {}",
                files[i].version.clone().unwrap_or_default(),
                others.join(", ")
            );
            files[i].findings.push(file_finding(
                "duplicate-version",
                Severity::Risky,
                message,
                "give one of the files a new, later version",
            ));
        }
    }

    // Trigger functions the migrations attach (taken before the replay consumes the steps).
    let attached_by_migrations: BTreeSet<String> = files
        .iter()
        .flat_map(|f| f.steps.iter())
        .filter_map(|s| {
            s.effects
                .trigger_function
                .as_ref()
                .map(|(_, f)| f.to_string())
        })
        .collect();
    let externals: BTreeSet<String> = config.check.externals.iter().cloned().collect();
    let versioned: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].version.is_some())
        .collect();
    let steps: Vec<Vec<order::Step>> = versioned
        .iter()
        .map(|&i| std::mem::take(&mut files[i].steps))
        .collect();
    let order = {
        let migrations: Vec<Migration> = versioned
            .iter()
            .map(|&i| Migration {
                version: files[i].version.as_deref().unwrap_or(""),
                label: &files[i].file_name,
                sql: "",
                statements: &[],
            })
            .collect();
        order::analyze_steps(&migrations, steps, &externals, live)
    };
    for f in &order.findings {
        let Some(severity) = options.severity_of(f.rule, f.severity) else {
            continue;
        };
        let file = &mut files[versioned[f.migration]];
        let finding = Finding {
            statement: Some(f.statement),
            fresh_only: f.fresh_only,
            ..Finding::new(
                f.rule,
                severity,
                f.message.clone(),
                f.help.clone(),
                f.line,
                f.column,
            )
        };
        match file.statements.iter_mut().find(|s| s.index == f.statement) {
            Some(s) => {
                s.findings.push(finding);
                s.class = Class::of(s.findings.iter().map(|f| &f.severity));
            }
            None => file.findings.push(finding),
        }
    }
    for f in &mut files {
        f.class = Class::of(
            f.findings
                .iter()
                .chain(f.statements.iter().flat_map(|s| &s.findings))
                .map(|x| &x.severity),
        );
    }
    let severity = options.severity_of("unattached-trigger-function", Severity::Review);
    let database = live
        .unattached_trigger_functions
        .iter()
        .filter(|f| !attached_by_migrations.contains(&f.to_string()))
        .filter_map(|f| {
            let help = format!(
                "attach it in a new migration: CREATE TRIGGER ... FOR EACH ROW EXECUTE FUNCTION {}.{}();",
                f.schema, f.name
            );
            let message = format!("{f} returns trigger, but no trigger in the database or the migrations executes it");
            Some(Finding::new("unattached-trigger-function", severity?, message, Some(help), 1, 1))
        })
        .collect();
    CheckRun {
        files,
        order,
        database,
        database_name: None,
    }
}

fn file_finding(rule: &str, severity: Severity, message: String, help: &str) -> Finding {
    Finding::new(rule, severity, message, Some(help.into()), 1, 1)
}

impl CheckedFile {
    /// Every finding, in file order.
    pub fn all_findings(&self) -> Vec<&Finding> {
        let mut all: Vec<&Finding> = self
            .findings
            .iter()
            .chain(self.statements.iter().flat_map(|s| &s.findings))
            .collect();
        all.sort_by_key(|f| (f.line, f.column));
        all
    }
}

/// The files `check` reads: each PATH (a file, or a folder's `.sql` files), else the migrations folder.
fn gather(ctx: &Context, paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let roots: Vec<PathBuf> = if paths.is_empty() {
        vec![ctx.migrations_dir()]
    } else {
        paths.to_vec()
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for root in roots {
        if root.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(&root)
                .map_err(|e| {
                    CliError::input(format!("cannot read the folder {}: {e}", root.display()))
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "sql"))
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else if root.is_file() {
            files.push(root);
        } else {
            return Err(CliError::input(format!(
                "{}: no such file or folder\n  hint: pass migration files or folders, or --dir PATH (default: supabase/migrations)",
                root.display()
            )));
        }
    }
    // Migrations in version order (as the CLI compares versions: as text), other files after them.
    files.sort_by_key(|p| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match parse_file_name(&name) {
            Some((version, _)) => (0, version, p.clone()),
            None => (1, String::new(), p.clone()),
        }
    });
    Ok(files)
}

fn read_sql(path: &Path) -> Result<String, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::input(format!("cannot read {}: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|e| {
        CliError::input(format!(
            "{} is not valid UTF-8 (first bad byte at byte {}); save the file as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

pub fn run(ctx: &Context, args: &CheckArgs) -> Result<i32, CliError> {
    let paths = gather(ctx, &args.paths)?;
    // With --db (given explicitly: check never connects on its own), objects the
    // database already has count too, and findings say when they break only a fresh one.
    let live = match &ctx.global.db {
        Some(_) => {
            let target = ctx.target()?;
            let mut client = target.connect()?;
            safemig_pg::catalog::live_objects(&mut client)?
        }
        None => order::Live::default(),
    };
    // One file in memory at a time: read, lint, keep the findings, drop the text.
    let options = lint_options(&ctx.config);
    let files = paths
        .into_iter()
        .map(|path| read_sql(&path).map(|sql| check_file(path, &sql, &options)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut run = finish(files, &ctx.config, &live);
    if ctx.global.db.is_some() {
        run.database_name = Some(ctx.target()?.display());
    }
    let failing = |class: Class| match args.fail_on {
        FailOn::Risky => class >= Class::Risky,
        FailOn::Review => class >= Class::Review,
        FailOn::Never => false,
    };
    let database_class = Class::of(run.database.iter().map(|f| &f.severity));
    let code = if run.files.iter().any(|f| failing(f.class)) || failing(database_class) {
        1
    } else {
        0
    };
    match ctx.global.format {
        Format::Json => print_json_streamed(&run),
        Format::Sarif => report::print_json(&sarif(&run)),
        Format::Github => github(&run),
        Format::Human => human_report(&run, args.hints),
    }
    Ok(code)
}

fn summary(run: &CheckRun) -> serde_json::Value {
    let count = |c: Class| run.files.iter().filter(|f| f.class == c).count();
    serde_json::json!({
        "files": run.files.len(),
        "safe": count(Class::Safe),
        "review": count(Class::Review),
        "risky": count(Class::Risky),
        "findings": run.files.iter().map(|f| f.all_findings().len()).sum::<usize>(),
    })
}

fn file_json(f: &CheckedFile) -> serde_json::Value {
    serde_json::json!({
        "path": f.path,
        "version": f.version,
        "class": f.class,
        "findings": f.all_findings(),
        "statements": f.statements,
    })
}

/// The `--format json` report, written a file at a time rather than built whole:
/// `{"files": [...], "proposed_order", "database", "summary"}`.
fn print_json_streamed(run: &CheckRun) {
    use std::io::Write as _;
    let pretty = |value: &serde_json::Value| {
        let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
        safemig_pg::redact::redact(&text)
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write = || -> std::io::Result<()> {
        write!(out, "{{\n  \"files\": [")?;
        for (i, f) in run.files.iter().enumerate() {
            let text = pretty(&file_json(f)).replace('\n', "\n    ");
            write!(out, "{}\n    {text}", if i == 0 { "" } else { "," })?;
        }
        write!(out, "{}],", if run.files.is_empty() { "" } else { "\n  " })?;
        let rest = serde_json::json!({
            "proposed_order": run.proposed_order(),
            "database": run.database_name.as_ref().map(|name| serde_json::json!({ "name": name, "findings": run.database })),
            "summary": summary(run),
        });
        let rest = pretty(&rest);
        // `rest` is `{\n  "proposed_order": ...\n}`: its members follow the files.
        writeln!(out, "{}", &rest[1..])?;
        out.flush()
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = write();
}

fn sarif(run: &CheckRun) -> serde_json::Value {
    let level = |s: Severity| match s {
        Severity::Risky => "error",
        Severity::Review => "warning",
        Severity::Hint => "note",
    };
    let used: BTreeSet<&str> = run
        .files
        .iter()
        .flat_map(|f| f.all_findings())
        .map(|f| f.rule.as_str())
        .collect();
    let rules: Vec<serde_json::Value> = used
        .iter()
        .filter_map(|name| safemig_analyze::rules::doc(name))
        .map(|d| {
            serde_json::json!({
                "id": d.name,
                "shortDescription": { "text": d.summary },
                "fullDescription": { "text": d.what_it_does },
                "help": { "text": format!("{}\n\nUse instead:\n{}", d.why_it_matters, d.use_instead) },
                "defaultConfiguration": { "level": level(d.severity) },
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = run
        .files
        .iter()
        .flat_map(|file| {
            file.all_findings().into_iter().map(move |f| {
                serde_json::json!({
                    "ruleId": f.rule,
                    "level": level(f.severity),
                    "message": { "text": match &f.help { Some(h) => format!("{} ({h})", f.message), None => f.message.clone() } },
                    "locations": [{ "physicalLocation": {
                        "artifactLocation": { "uri": file.path.to_string_lossy() },
                        "region": { "startLine": f.line, "startColumn": f.column },
                    }}],
                })
            })
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "safemig", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }],
    })
}

/// GitHub Actions workflow commands: one annotation per finding.
fn github(run: &CheckRun) {
    let escape = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let escape_property = |s: &str| escape(s).replace(':', "%3A").replace(',', "%2C");
    for file in &run.files {
        for f in file.all_findings() {
            let command = match f.severity {
                Severity::Risky => "error",
                Severity::Review => "warning",
                Severity::Hint => "notice",
            };
            let text = match &f.help {
                Some(h) => format!("{}\n{h}", f.message),
                None => f.message.clone(),
            };
            println!(
                "::{command} file={},line={},col={},title={}::{}",
                escape_property(&file.path.to_string_lossy()),
                f.line,
                f.column,
                escape_property(&format!("safemig {}", f.rule)),
                escape(&text)
            );
        }
    }
}

fn class_label(class: Class) -> String {
    match class {
        Class::Safe => human::green("safe  "),
        Class::Review => human::yellow("review"),
        Class::Risky => human::red("risky "),
    }
}

fn severity_label(s: Severity) -> String {
    match s {
        Severity::Risky => human::red("risky"),
        Severity::Review => human::yellow("review"),
        Severity::Hint => human::dim("hint"),
    }
}

/// rustc-style: the finding, where, the source line with a caret, the fix.
pub fn print_finding(path: &Path, sql: &str, f: &Finding) {
    use std::fmt::Write as _;
    // Built whole and written once: one write per finding, not one per line.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}{} {}",
        severity_label(f.severity),
        human::bold(&format!("[{}]", f.rule)),
        f.message
    );
    let _ = writeln!(
        out,
        "  {} {}:{}:{}",
        human::dim("-->"),
        path.display(),
        f.line,
        f.column
    );
    if let Some(text) = sql.lines().nth(f.line.saturating_sub(1)) {
        let gutter = f.line.to_string();
        let pad = " ".repeat(gutter.len());
        let shown: String = text.chars().take(160).collect();
        let _ = writeln!(out, "  {pad} {}", human::dim("|"));
        let _ = writeln!(out, "  {} {} {shown}", human::dim(&gutter), human::dim("|"));
        let _ = writeln!(
            out,
            "  {pad} {} {}{}",
            human::dim("|"),
            " ".repeat(f.column.saturating_sub(1)),
            human::red("^")
        );
    }
    if let Some(inside) = f.inside {
        let _ = writeln!(
            out,
            "  {} inside a {}",
            human::dim("= note:"),
            if inside == "do-block" {
                "DO block"
            } else {
                "function body"
            }
        );
    }
    if let Some(help) = &f.help {
        let _ = writeln!(out, "  {} {help}", human::dim("= help:"));
    }
    println!("{out}");
}

fn human_report(run: &CheckRun, show_hints: bool) {
    let mut hidden = 0;
    for file in &run.files {
        let (shown, hints): (Vec<&Finding>, Vec<&Finding>) = file
            .all_findings()
            .into_iter()
            .partition(|f| show_hints || f.severity != Severity::Hint);
        hidden += hints.len();
        if shown.is_empty() {
            continue;
        }
        // The text was dropped after linting; read it again for the snippets.
        let sql = std::fs::read_to_string(&file.path).unwrap_or_default();
        for f in shown {
            print_finding(&file.path, &sql, f);
        }
    }
    for f in &run.database {
        println!(
            "{}{} {}",
            severity_label(f.severity),
            human::bold(&format!("[{}]", f.rule)),
            f.message
        );
        println!(
            "  {} {}",
            human::dim("-->"),
            run.database_name.as_deref().unwrap_or("the database")
        );
        if let Some(help) = &f.help {
            println!("  {} {help}", human::dim("= help:"));
        }
        println!();
    }
    for file in &run.files {
        let findings = file.all_findings();
        let rules: BTreeSet<&str> = findings
            .iter()
            .filter(|f| f.severity > Severity::Hint)
            .map(|f| f.rule.as_str())
            .collect();
        let why = if rules.is_empty() {
            String::new()
        } else {
            format!(
                "  {}",
                human::dim(&rules.into_iter().collect::<Vec<_>>().join(", "))
            )
        };
        println!(
            "  {}  {}{why}",
            class_label(file.class),
            file.path.display()
        );
    }
    if let Some(order) = run.proposed_order() {
        println!(
            "\n{} migrations use objects that later migrations create; an order that works:",
            human::bold("order:")
        );
        for (i, name) in order.iter().enumerate() {
            println!("  {}. {name}", i + 1);
        }
        println!("  rename the files (their version prefix) to give them this order");
    } else if run.order.cycle {
        println!("\n{} the migrations need each other's objects in a circle: no version order works; merge or split them", human::bold("order:"));
    }
    let s = summary(run);
    println!(
        "\n{} files: {} safe, {} review, {} risky ({} findings)",
        s["files"], s["safe"], s["review"], s["risky"], s["findings"]
    );
    if hidden > 0 {
        println!(
            "{}",
            human::dim(&format!(
                "{hidden} hints not shown (style and robustness); --hints shows them"
            ))
        );
    }
}
