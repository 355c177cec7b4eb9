//! `safemig check`: static analysis of migration files with PostgreSQL's own
//! parser. No database needed. `migrate` runs the same analysis first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use safemig_analyze::lint::{Finding, LintOptions};
use safemig_analyze::order::{self, Migration};
use safemig_analyze::{Class, Severity};
use safemig_project::migrations::parse_file_name;

use crate::cli::{CheckArgs, FailOn, Format};
use crate::context::{CliError, Context};
use crate::report::{self, human};

use safemig_analyze::project::{self, cross_file, finish, key_of, merge, Ordering};
pub use safemig_analyze::project::{CheckRun, CheckedFile};

use crate::context::{lint_options, project_options};

/// A migration file's version, from its name as the Supabase CLI reads it.
pub fn version_of(path: &Path) -> Option<String> {
    path.file_name()
        .and_then(|n| parse_file_name(&n.to_string_lossy()).map(|(v, _)| v))
}

/// Lints one file of the project.
fn check_file(path: PathBuf, sql: &str, options: &LintOptions) -> CheckedFile {
    let version = version_of(&path);
    project::check_file(path, version, sql, options)
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

/// A file that could not be read: one `unreadable-file` finding, so that the
/// report on every other file still comes (and check exits 2 at the end).
fn unreadable(path: PathBuf, why: &str) -> CheckedFile {
    let mut file = check_file(path, "", &LintOptions::default());
    let (message, help) = why.split_once("\n  hint: ").unwrap_or((why, ""));
    file.findings.push(Finding::new(
        "unreadable-file",
        Severity::Risky,
        message.to_string(),
        Some(if help.is_empty() {
            "save the file as UTF-8, or fix its permissions".to_string()
        } else {
            help.to_string()
        }),
        1,
        1,
    ));
    file.class = Class::Risky;
    file
}

fn read_sql(path: &Path) -> Result<String, CliError> {
    // The same limit as migrate's: parsing costs about 100 times a file's size.
    let limit_mib = safemig_project::migrations::max_migration_mib();
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.len() > limit_mib.saturating_mul(1024 * 1024) {
            return Err(safemig_project::ProjectError::TooLarge {
                path: path.to_path_buf(),
                size_mib: meta.len().div_ceil(1024 * 1024),
                limit_mib,
            }
            .into());
        }
    }
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
    let mut client = None;
    let live = match &ctx.global.db {
        Some(_) => {
            let target = ctx.target()?;
            let mut connected = target.connect()?;
            let mut live = safemig_pg::catalog::live_objects(&mut connected)?;
            // What the files' DROP ... CASCADE would take along in this database.
            let dropped: Vec<_> = paths
                .iter()
                .filter_map(|p| read_sql(p).ok())
                .flat_map(|sql| safemig_analyze::objects::cascade_drops(&sql))
                .collect();
            live.cascade_dependents =
                safemig_pg::catalog::cascade_dependents(&mut connected, &dropped)?;
            client = Some(connected);
            live
        }
        None => order::Live::default(),
    };
    // Allowances that name no migration file cover nothing: say so (on stderr,
    // which leaves every report format as it is).
    if args.paths.is_empty() {
        if let Ok(set) = ctx.migrations() {
            for w in ctx.config_warnings(Some(&set), client.as_mut()) {
                eprintln!("warning: {w}");
            }
        }
    }
    let code = match ctx.global.format {
        Format::Human | Format::Json => stream(ctx, args, paths, &live, &mut client)?,
        Format::Sarif | Format::Github => {
            let options = lint_options(&ctx.config);
            let mut unreadable_files = 0;
            let files: Vec<CheckedFile> = paths
                .into_iter()
                .map(|path| match read_sql(&path) {
                    Ok(sql) => check_file(path, &sql, &options),
                    Err(e) => {
                        unreadable_files += 1;
                        unreadable(path, &e.message)
                    }
                })
                .collect();
            let run = finish(files, &project_options(&ctx.config), &live);
            let database_class = Class::of(run.database.iter().map(|f| &f.severity));
            let reviewed = |f: &CheckedFile| {
                ctx.config
                    .risky_allowed(f.version.as_deref().unwrap_or(""), &f.file_name)
            };
            let failing = run
                .files
                .iter()
                .any(|f| !reviewed(f) && failing(args.fail_on, f.class))
                || failing(args.fail_on, database_class);
            if ctx.global.format == Format::Sarif {
                report::print_json(&sarif(&run));
            } else {
                github(&run);
            }
            if unreadable_files > 0 {
                2
            } else {
                i32::from(failing)
            }
        }
    };
    Ok(code)
}

fn failing(fail_on: FailOn, class: Class) -> bool {
    match fail_on {
        FailOn::Risky => class >= Class::Risky,
        FailOn::Review => class >= Class::Review,
        FailOn::Never => false,
    }
}

/// What the end of the report needs of a file once its findings are written.
struct FileSummary {
    path: PathBuf,
    class: Class,
    /// The file's line in the list at the end: class, path, rules at review or risky.
    line: String,
    findings: usize,
    hints: usize,
    /// Named in safemig.toml (`[check] allow_risky`, an `[[allow]]`): reviewed, so
    /// its findings are shown but do not fail `check` (an applied migration's
    /// findings are history).
    reviewed: bool,
    /// With `--db`: risky only for what tables hold, and they hold nothing there.
    not_risky_here: bool,
}

impl FileSummary {
    fn of(f: &CheckedFile, config: &safemig_project::Config) -> FileSummary {
        let all = f.all_findings();
        let rules: BTreeSet<&str> = all
            .iter()
            .filter(|x| x.severity > Severity::Hint)
            .map(|x| x.rule.as_str())
            .collect();
        let why = if rules.is_empty() {
            String::new()
        } else {
            format!(
                "  {}",
                human::dim(&rules.into_iter().collect::<Vec<_>>().join(", "))
            )
        };
        let reviewed = f.class > Class::Safe
            && config.risky_allowed(f.version.as_deref().unwrap_or(""), &f.file_name);
        let note = if reviewed {
            format!(
                "  {}",
                human::dim("(reviewed in safemig.toml: does not fail check)")
            )
        } else {
            String::new()
        };
        FileSummary {
            path: f.path.clone(),
            class: f.class,
            line: format!(
                "  {}  {}{why}{note}",
                class_label(f.class),
                f.path.display()
            ),
            findings: all.len(),
            hints: all.iter().filter(|x| x.severity == Severity::Hint).count(),
            reviewed,
            not_risky_here: false,
        }
    }
}

/// One file's part of the report: the findings with their snippets (human), or
/// the file's JSON object, indented for the `files` array.
fn render_file(f: &CheckedFile, sql: &str, json: bool, show_hints: bool) -> String {
    if json {
        let text = serde_json::to_string_pretty(&file_json(f)).expect("JSON values serialize");
        return safemig_pg::redact::redact(&text).replace('\n', "\n    ");
    }
    let mut out = String::new();
    let lines = safemig_analyze::parse::LineIndex::new(sql);
    for finding in f
        .all_findings()
        .into_iter()
        .filter(|x| show_hints || x.severity != Severity::Hint)
    {
        out.push_str(&format_finding(&f.path, sql, &lines, finding));
        out.push('\n');
    }
    out
}

/// The human and JSON reports, one file in memory at a time. Each file is read,
/// linted and rendered, and its rendering goes to an unnamed temporary file; what
/// stays in memory is its summary and its objects for the replay. After the
/// replay, the few files that cross-file findings join (an ordering problem, a
/// duplicate version) are linted again with them; the rest is copied through.
fn stream(
    ctx: &Context,
    args: &CheckArgs,
    paths: Vec<PathBuf>,
    live: &order::Live,
    client: &mut Option<safemig_pg::postgres::Client>,
) -> Result<i32, CliError> {
    use std::io::{Read as _, Seek as _, Write as _};
    let json = ctx.global.format == Format::Json;
    let options = lint_options(&ctx.config);
    let spill_error = |e: std::io::Error| {
        CliError::input(format!("cannot write check's temporary report file: {e}"))
    };
    let mut spill = tempfile::tempfile().map_err(spill_error)?;
    let mut summaries = Vec::new();
    let mut lengths = Vec::new();
    let mut keys = Vec::new();
    let mut unreadable_files = 0usize;
    let project_options = project_options(&ctx.config);
    let mut ordering = Ordering::new(&project_options.externals, live);
    {
        let mut writer = std::io::BufWriter::new(&spill);
        // Files are read, linted and rendered on every core, a batch at a time;
        // their results go into the replay and the report in version order.
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let batch = 32 * workers;
        let lint_one = |path: &PathBuf| -> Result<(CheckedFile, String), CliError> {
            let (file, sql) = match read_sql(path) {
                Ok(sql) => (check_file(path.clone(), &sql, &options), sql),
                Err(e) => (unreadable(path.clone(), &e.message), String::new()),
            };
            let text = render_file(&file, &sql, json, args.hints);
            Ok((file, text))
        };
        for chunk in paths.chunks(batch) {
            let per_worker = chunk.len().div_ceil(workers);
            let results: Vec<Result<(CheckedFile, String), CliError>> =
                std::thread::scope(|scope| {
                    let handles: Vec<_> = chunk
                        .chunks(per_worker)
                        .map(|part| scope.spawn(|| part.iter().map(lint_one).collect::<Vec<_>>()))
                        .collect();
                    handles
                        .into_iter()
                        .flat_map(|h| {
                            h.join().unwrap_or_else(|_| {
                                vec![Err(CliError::input(
                                    "internal error: linting a file panicked",
                                ))]
                            })
                        })
                        .collect()
                });
            for result in results {
                let (mut file, text) = result?;
                if file.findings.iter().any(|f| f.rule == "unreadable-file") {
                    unreadable_files += 1;
                }
                let key = key_of(&file);
                ordering.add(keys.len(), &key, std::mem::take(&mut file.steps));
                keys.push(key);
                writer.write_all(text.as_bytes()).map_err(spill_error)?;
                lengths.push(text.len());
                let mut summary = FileSummary::of(&file, &ctx.config);
                // --db: a file risky only for what tables hold is not risky where they hold nothing.
                if let (Some(client), Class::Risky) = (client.as_mut(), file.class) {
                    if let Ok(sql) = std::fs::read_to_string(&file.path) {
                        if let Some(why) = super::migrate::not_risky_for_target(client, &file, &sql)
                        {
                            summary.line.push_str(&format!(
                                "  {}",
                                human::dim(&format!("(not risky for this database: {why})"))
                            ));
                            summary.not_risky_here = true;
                        }
                    }
                }
                summaries.push(summary);
            }
        }
        writer.flush().map_err(spill_error)?;
    }
    // A proposed order is checked by replaying the files in it: read and parsed
    // again (only when migrations use what later ones create).
    let mut steps_again = |i: usize| {
        let sql = std::fs::read_to_string(&summaries[i].path).ok()?;
        let statements = safemig_analyze::parse::parse_file(&sql).statements;
        Some(order::steps_of(&Migration {
            version: "",
            label: "",
            sql: &sql,
            statements: &statements,
        }))
    };
    let cross = cross_file(&keys, ordering, &project_options, live, &mut steps_again);
    let mut redone: BTreeMap<usize, String> = BTreeMap::new();
    for (i, extra) in cross.per_file {
        let path = summaries[i].path.clone();
        let Ok(sql) = read_sql(&path) else { continue };
        let mut file = check_file(path, &sql, &options);
        merge(&mut file, extra);
        redone.insert(i, render_file(&file, &sql, json, args.hints));
        summaries[i] = FileSummary::of(&file, &ctx.config);
    }

    let database_name = match &ctx.global.db {
        Some(_) => Some(ctx.target()?.display()),
        None => None,
    };
    let versioned: Vec<&str> = keys
        .iter()
        .filter(|k| k.version.is_some())
        .map(|k| k.file_name.as_str())
        .collect();
    let proposed: Option<Vec<&str>> = cross
        .order
        .proposed_order
        .as_ref()
        .map(|o| o.iter().map(|&i| versioned[i]).collect());
    let count = |c: Class| summaries.iter().filter(|f| f.class == c).count();
    let summary = serde_json::json!({
        "files": summaries.len(),
        "safe": count(Class::Safe),
        "review": count(Class::Review),
        "risky": count(Class::Risky),
        "findings": summaries.iter().map(|f| f.findings).sum::<usize>(),
    });

    spill.rewind().map_err(spill_error)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write = || -> std::io::Result<()> {
        if json {
            write!(out, "{{\n  \"files\": [")?;
        }
        let mut buffer = Vec::new();
        for (i, &len) in lengths.iter().enumerate() {
            buffer.resize(len, 0);
            spill.read_exact(&mut buffer)?;
            let text = redone.get(&i).map_or(&buffer[..], |t| t.as_bytes());
            if json {
                write!(out, "{}\n    ", if i == 0 { "" } else { "," })?;
            }
            out.write_all(text)?;
        }
        if json {
            write!(out, "{}],", if summaries.is_empty() { "" } else { "\n  " })?;
            let rest = serde_json::json!({
                "proposed_order": proposed,
                "database": database_name.as_ref().map(|name| serde_json::json!({ "name": name, "findings": cross.database })),
                "summary": summary,
            });
            let rest = safemig_pg::redact::redact(
                &serde_json::to_string_pretty(&rest).expect("JSON values serialize"),
            );
            // `rest` is `{\n  "proposed_order": ...\n}`: its members follow the files.
            writeln!(out, "{}", &rest[1..])?;
            return out.flush();
        }
        for f in &cross.database {
            writeln!(
                out,
                "{}{} {}",
                severity_label(f.severity),
                human::bold(&format!("[{}]", f.rule)),
                f.message
            )?;
            writeln!(
                out,
                "  {} {}",
                human::dim("-->"),
                database_name.as_deref().unwrap_or("the database")
            )?;
            if let Some(help) = &f.help {
                writeln!(out, "  {} {help}", human::dim("= help:"))?;
            }
            writeln!(out)?;
        }
        for file in &summaries {
            writeln!(out, "{}", file.line)?;
        }
        if let Some(order) = &proposed {
            writeln!(
                out,
                "\n{} migrations use objects that later migrations create; an order that works:",
                human::bold("order:")
            )?;
            for (i, name) in order.iter().enumerate() {
                writeln!(out, "  {}. {name}", i + 1)?;
            }
            writeln!(
                out,
                "  rename the files (their version prefix) to give them this order"
            )?;
        } else if cross.order.cycle {
            writeln!(
                out,
                "\n{} the migrations need each other's objects in a circle: no version order works; merge or split them",
                human::bold("order:")
            )?;
        }
        writeln!(
            out,
            "\n{} files: {} safe, {} review, {} risky ({} findings)",
            summary["files"],
            summary["safe"],
            summary["review"],
            summary["risky"],
            summary["findings"]
        )?;
        let hidden: usize = if args.hints {
            0
        } else {
            summaries.iter().map(|f| f.hints).sum()
        };
        if hidden > 0 {
            writeln!(
                out,
                "{}",
                human::dim(&format!(
                    "{hidden} hints not shown (style and robustness); --hints shows them"
                ))
            )?;
        }
        out.flush()
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    if let Err(e) = write() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(CliError::input(format!("cannot write the report: {e}")));
        }
    }
    let database_class = Class::of(cross.database.iter().map(|f| &f.severity));
    let failed = summaries.iter().any(|f| {
        let class = if f.not_risky_here && f.class == Class::Risky {
            Class::Review
        } else {
            f.class
        };
        !f.reviewed && failing(args.fail_on, class)
    }) || failing(args.fail_on, database_class);
    // A file that could not be read was reported with the rest; the run is bad input.
    if unreadable_files > 0 {
        return Ok(2);
    }
    Ok(i32::from(failed))
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
        .chain(&run.database)
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
        // Findings about the database itself (`check --db`): no file to point at.
        .chain(run.database.iter().map(|f| {
            serde_json::json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": { "text": match &f.help { Some(h) => format!("{} ({h})", f.message), None => f.message.clone() } },
                "locations": [{ "logicalLocations": [{ "name": "database", "kind": "resource" }] }],
            })
        }))
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
    // Findings about the database itself (`check --db`): an annotation without a file.
    for f in &run.database {
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
            "::{command} title={}::{}",
            escape_property(&format!("safemig {}", f.rule)),
            escape(&text)
        );
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
    let lines = safemig_analyze::parse::LineIndex::new(sql);
    println!("{}", format_finding(path, sql, &lines, f));
}

/// rustc-style, as one string: the finding, where, the source line with a caret, the fix.
fn format_finding(
    path: &Path,
    sql: &str,
    lines: &safemig_analyze::parse::LineIndex,
    f: &Finding,
) -> String {
    use std::fmt::Write as _;
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
    if let Some(text) = lines.line(sql, f.line) {
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
    out
}
