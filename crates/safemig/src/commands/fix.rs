//! `safemig fix`: the safe version of pending migrations (see
//! `safemig_analyze::fix` for the rewrites). A diff by default; `--write` keeps
//! the originals under `.safemig/fix/<time>/` and writes the files in place,
//! modes kept. Never touches an applied migration (with `--db`, the history
//! says which; without it, nothing says, and fix says so).

use std::path::{Path, PathBuf};

use safemig_analyze::fix::{self, Change, Facts};
use safemig_pg::status::{self, State};

use crate::cli::FixArgs;
use crate::context::{CliError, Context};
use crate::report::{self, human};

#[derive(Debug, serde::Serialize)]
struct FileReport {
    path: PathBuf,
    changes: Vec<Change>,
    written: bool,
}

pub fn run(ctx: &Context, args: &FixArgs) -> Result<i32, CliError> {
    for rule in &args.rules {
        if !fix::FIXABLE.contains(&rule.as_str()) {
            return Err(CliError::input(format!(
                "--rule {rule}: fix has no rewrite for it; rules with one: {}",
                fix::FIXABLE.join(", ")
            )));
        }
    }
    let mut notes = Vec::new();
    // With a database (--db or DATABASE_URL): what is applied, and what tables hold.
    let mut client = match ctx.explicit_url() {
        Some(_) => Some(ctx.target()?.connect()?),
        None => None,
    };
    let knows_history = client.is_some();
    let history = match client.as_mut() {
        Some(c) => Some(safemig_pg::history::read(c)?),
        None => None,
    };
    // File names first: a version two files share stops the folder from loading.
    // Not when the run is narrowed to some files or rules: renames are neither.
    let name_renames = if args.paths.is_empty() && args.rules.is_empty() {
        file_name_renames(
            &ctx.migrations_dir(),
            history.as_ref(),
            args.rename_skipped,
            &mut notes,
        )
    } else {
        Vec::new()
    };
    if args.write {
        rename_all(&name_renames)?;
    }
    let set = match ctx.migrations() {
        Ok(set) => set,
        // Shown, not written: the rest of fix runs once they are (fix --write).
        Err(_) if !args.write && !name_renames.is_empty() => {
            notes.push("fix --write renames these first, then fixes the files".into());
            return Ok(print_renames_only(ctx, &name_renames, &notes));
        }
        Err(e) => {
            for note in &notes {
                eprintln!("{} {note}", human::yellow("note:"));
            }
            return Err(e);
        }
    };
    // Without the history, nothing says which files are applied: writing is only
    // for files named on the command line, and nothing is renamed.
    if !knows_history && args.write && args.paths.is_empty() {
        return Err(CliError::input(
            "fix --write needs the database (--db or DATABASE_URL) to know which migrations are applied, which it \
             never changes; or name the pending files to fix: safemig fix --write supabase/migrations/<file>.sql"
                .to_string(),
        ));
    }
    let pending: Vec<PathBuf> = match &history {
        Some(history) => status::compute(&set, history)
            .into_iter()
            .filter(|s| matches!(s.state, State::Pending | State::OutOfOrder))
            .filter_map(|s| set.get(&s.version).map(|m| m.path.clone()))
            .collect(),
        None => {
            notes.push(
                "without a database (--db or DATABASE_URL), fix cannot tell which migrations are applied (it fixes \
                 only the files you name, and renames none) nor what a table holds (a drop is kept out rather than \
                 guessed safe)"
                    .to_string(),
            );
            set.migrations.iter().map(|m| m.path.clone()).collect()
        }
    };
    let files: Vec<PathBuf> = if args.paths.is_empty() {
        pending.clone()
    } else {
        let mut chosen = Vec::new();
        for path in &args.paths {
            let canonical = std::fs::canonicalize(path)
                .map_err(|e| CliError::input(format!("cannot read {}: {e}", path.display())))?;
            let found = pending
                .iter()
                .find(|p| std::fs::canonicalize(p).ok().as_ref() == Some(&canonical));
            match found {
                Some(p) => chosen.push(p.clone()),
                None => {
                    return Err(CliError::input(format!(
                        "{} is not a pending migration of {}: fix never changes an applied migration (its history \
                         row would no longer match the file)",
                        path.display(),
                        set.dir.display()
                    )))
                }
            }
        }
        chosen
    };

    let mut reports = Vec::new();
    let mut fixed_texts = Vec::new();
    // New migrations, right after the file they come from: (path, text).
    let mut follow_ups: Vec<(PathBuf, String)> = Vec::new();
    let touched_before = touched_before(&set, &pending);
    for path in &files {
        let sql = std::fs::read_to_string(path)
            .map_err(|e| CliError::input(format!("cannot read {}: {e}", path.display())))?;
        let needs = fix::needs(&sql);
        let mut facts = match client.as_mut() {
            Some(c) => safemig_pg::catalog::fix_facts(c, &needs)?,
            None => Facts::default(),
        };
        // What earlier pending migrations make, fill or alter is not in the
        // database as this file will meet it: its contents cannot be told; nor, in
        // a file that moves the search_path, where an unqualified name points.
        facts
            .unknown
            .extend(touched_before.get(path).cloned().unwrap_or_default());
        if sql.to_lowercase().contains("search_path") {
            facts.unknown.extend(needs.unqualified.iter().cloned());
        }
        let options = crate::context::lint_options(&ctx.config);
        let mut fixed = fix::fix_file(&sql, &facts, &args.rules, &options);
        // A follow-up migration needs a free version right after this one, of the
        // same width (a longer one would sort before it by file name, as the
        // Supabase CLI orders files): without one, those statements stay put.
        let mut follow = None;
        if !fixed.follow_up.is_empty() {
            follow = follow_up_path(&set, path, &follow_ups);
            if follow.is_none() {
                notes.push(format!(
                    "{}: no free version right after it for a follow-up migration, so its index and constraints \
                     are left as they are; give the next migration a later version and run fix again",
                    path.display()
                ));
                let rules: Vec<String> = fix::FIXABLE
                    .iter()
                    .filter(|r| {
                        !fix::FOLLOW_UP_RULES.contains(r)
                            && (args.rules.is_empty() || args.rules.iter().any(|a| a == *r))
                    })
                    .map(|r| r.to_string())
                    .collect();
                fixed = fix::fix_file(&sql, &facts, &rules, &options);
            }
        }
        if fixed.changes.is_empty() || fixed.text == sql {
            continue;
        }
        if let Some(follow) = follow {
            let text = format!(
                "-- Written by safemig fix: what {} should not do inside its transaction.\n\
                 SET lock_timeout = '5s';\n{}\n",
                path.file_name().unwrap_or_default().to_string_lossy(),
                fixed
                    .follow_up
                    .iter()
                    .map(|s| format!("{s};"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            follow_ups.push((follow, text));
        }
        reports.push(FileReport {
            path: path.clone(),
            changes: fixed.changes,
            written: false,
        });
        fixed_texts.push((path.clone(), sql, fixed.text));
    }

    // The order: pending files renamed so that nothing is used before it is made.
    // (from, to, why); the name renames are already done when writing.
    let mut renames: Vec<(PathBuf, PathBuf, String)> = name_renames;
    let renamed_already = renames.len();
    if knows_history
        && (args.rules.is_empty() || args.rules.iter().any(|r| r == "use-before-create"))
    {
        let texts: Vec<String> = set
            .migrations
            .iter()
            .map(|m| {
                fixed_texts
                    .iter()
                    .find(|(p, _, _)| *p == m.path)
                    .map(|(_, _, after)| after.clone())
                    .unwrap_or_else(|| m.sql.clone())
            })
            .collect();
        let parsed: Vec<Vec<safemig_analyze::Statement>> = texts
            .iter()
            .map(|t| safemig_analyze::parse_file(t).statements)
            .collect();
        let files: Vec<(String, String, &[safemig_analyze::Statement])> = set
            .migrations
            .iter()
            .zip(&parsed)
            .map(|(m, statements)| (m.version.clone(), m.file_name(), statements.as_slice()))
            .collect();
        let movable = |i: usize| files_pending(&pending, &set.migrations[i].path);
        let follow_versions: Vec<String> = follow_ups
            .iter()
            .filter_map(|(p, _)| {
                p.file_name()?
                    .to_str()?
                    .split('_')
                    .next()
                    .map(str::to_string)
            })
            .collect();
        match fix::order_renames(&files, &movable, &follow_versions) {
            Ok(found) => {
                for r in found {
                    let Some(m) = set.get(&r.from_version) else {
                        continue;
                    };
                    if fixed_texts.iter().any(|(p, _, _)| *p == m.path)
                        && follow_ups.iter().any(|(p, _)| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| n.ends_with(&format!("_{}_followup.sql", m.name)))
                        })
                    {
                        notes.push(format!(
                            "{} must move after another migration, and fix also wrote a follow-up for it: write these \
                             changes, then run fix again to rename it",
                            m.path.display()
                        ));
                        continue;
                    }
                    let new_name = format!("{}_{}.sql", r.to_version, m.name);
                    renames.push((
                        m.path.clone(),
                        m.path.with_file_name(new_name),
                        "use-before-create: into the order where nothing is used before it is made"
                            .into(),
                    ));
                }
            }
            Err(why) => notes.push(format!(
                "the order check proposes cannot be made by renaming: {why}"
            )),
        }
    }

    if args.write && !fixed_texts.is_empty() {
        let kept = keep_originals(ctx, &fixed_texts)?;
        for ((path, _, text), report) in fixed_texts.iter().zip(reports.iter_mut()) {
            write_keeping_mode(path, text)?;
            report.written = true;
        }
        notes.push(format!("the original files are kept in {}", kept.display()));
    }

    if args.write {
        for (path, text) in &follow_ups {
            std::fs::write(path, text)
                .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
        }
        rename_all(&renames[renamed_already..])?;
    }

    let code =
        if !args.write && !(reports.is_empty() && renames.is_empty() && follow_ups.is_empty()) {
            1
        } else {
            0
        };
    if ctx.json() {
        report::print_json(&serde_json::json!({
            "files": reports,
            "renames": renames.iter().map(|(from, to, why)| serde_json::json!({"from": from, "to": to, "why": why})).collect::<Vec<_>>(),
            "new_files": follow_ups.iter().map(|(path, _)| path).collect::<Vec<_>>(),
            "written": args.write,
            "notes": notes,
        }));
        return Ok(code);
    }
    for note in &notes {
        eprintln!("{} {note}", human::yellow("note:"));
    }
    print_renames(&renames, args.write);
    if reports.is_empty() {
        if renames.is_empty() {
            println!("nothing to fix in {} file(s)", files.len());
        }
        return Ok(code);
    }
    for ((path, before, after), report) in fixed_texts.iter().zip(&reports) {
        if !args.write {
            let name = path.display().to_string();
            let diff = similar::TextDiff::from_lines(before.as_str(), after.as_str());
            print!(
                "{}",
                diff.unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{name}"), &format!("b/{name}"))
            );
        }
        for c in &report.changes {
            println!(
                "{} {}:{} {}: {}",
                if args.write {
                    human::green("fixed")
                } else {
                    human::yellow("would fix")
                },
                path.display(),
                c.line,
                c.rule,
                c.what
            );
        }
    }
    for (path, text) in &follow_ups {
        if !args.write {
            let name = path.display().to_string();
            let diff = similar::TextDiff::from_lines("", text.as_str());
            print!(
                "{}",
                diff.unified_diff()
                    .header("/dev/null", &format!("b/{name}"))
            );
        }
        println!(
            "{} {} (a migration of its own, right after the one it comes from)",
            if args.write {
                human::green("wrote")
            } else {
                human::yellow("would write")
            },
            path.display()
        );
    }
    if !args.write {
        println!(
            "{}",
            human::dim(
                "safemig fix --write applies this (the originals are kept under .safemig/fix/)"
            )
        );
    }
    Ok(code)
}

/// Renames (from, to, why), stopping at the first that fails.
fn rename_all(renames: &[(PathBuf, PathBuf, String)]) -> Result<(), CliError> {
    for (from, to, _) in renames {
        std::fs::rename(from, to).map_err(|e| {
            CliError::input(format!(
                "cannot rename {} to {}: {e}",
                from.display(),
                to.display()
            ))
        })?;
    }
    Ok(())
}

fn print_renames(renames: &[(PathBuf, PathBuf, String)], written: bool) {
    for (from, to, why) in renames {
        println!(
            "{} {} -> {} ({why})",
            if written {
                human::green("renamed")
            } else {
                human::yellow("would rename")
            },
            from.display(),
            to.file_name().unwrap_or_default().to_string_lossy()
        );
    }
}

/// The report when only renames can be shown (the folder loads once they are made).
fn print_renames_only(
    ctx: &Context,
    renames: &[(PathBuf, PathBuf, String)],
    notes: &[String],
) -> i32 {
    if ctx.json() {
        report::print_json(&serde_json::json!({
            "files": [],
            "renames": renames.iter().map(|(from, to, why)| serde_json::json!({"from": from, "to": to, "why": why})).collect::<Vec<_>>(),
            "new_files": [],
            "written": false,
            "notes": notes,
        }));
    } else {
        for note in notes {
            eprintln!("{} {note}", human::yellow("note:"));
        }
        print_renames(renames, false);
    }
    1
}

/// Renames that make every migration file one the Supabase CLI and safemig read,
/// each version once: (from, to, why). Two files with one version: the one the
/// history names as applied (else the first by name) keeps it, the other gets
/// the next free version right after it; without the history, nothing says
/// which is applied, and a note says so. `<digits>-<rest>.sql` (skipped by the
/// CLI: a dash after the version) becomes `<digits>_<rest>.sql` when asked.
fn file_name_renames(
    dir: &Path,
    history: Option<&safemig_pg::history::History>,
    rename_skipped: bool,
    notes: &mut Vec<String>,
) -> Vec<(PathBuf, PathBuf, String)> {
    use std::collections::{BTreeMap, BTreeSet};
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new(); // loading the folder says what is wrong
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let applied: BTreeSet<&str> = history
        .map(|h| {
            h.supabase
                .iter()
                .map(|r| r.version.as_str())
                .chain(h.safemig.keys().map(String::as_str))
                .collect()
        })
        .unwrap_or_default();
    let parsed: Vec<(String, String, &String)> = names
        .iter()
        .filter_map(|n| {
            safemig_project::migrations::parse_file_name(n).map(|(v, name)| (v, name, n))
        })
        .collect();
    // Versions taken: by a file, or by the history (a version applied from a file
    // no longer here would make a moved file count as applied, never to run).
    let mut used: BTreeSet<String> = parsed.iter().map(|(v, _, _)| v.clone()).collect();
    used.extend(applied.iter().map(|v| v.to_string()));
    let mut out = Vec::new();
    for n in &names {
        let Some((digits, rest)) = n.strip_suffix(".sql").and_then(|s| s.split_once('-')) else {
            continue;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || rest.is_empty() {
            continue;
        }
        let to = format!("{digits}_{rest}.sql");
        if history.is_none() {
            notes.push(format!(
                "{n} is skipped by the Supabase CLI and by safemig (a dash, not an underscore, follows the \
                 version): with the database (--db or DATABASE_URL), safemig fix --rename-skipped renames it to {to}"
            ));
        } else if !rename_skipped {
            notes.push(format!(
                "{n} is skipped by the Supabase CLI and by safemig (a dash, not an underscore, follows the \
                 version): safemig fix --rename-skipped renames it to {to}"
            ));
        } else if used.contains(digits) || applied.contains(digits) {
            notes.push(format!(
                "{n}: version {digits} is taken (by another file or the history), so it is not renamed; give it \
                 a free version by hand"
            ));
        } else {
            used.insert(digits.to_string());
            out.push((
                dir.join(n),
                dir.join(to),
                "the Supabase CLI skipped it: a dash followed the version".into(),
            ));
        }
    }
    let mut by_version: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (version, name, file) in &parsed {
        by_version
            .entry(version.as_str())
            .or_default()
            .push((name.as_str(), file.as_str()));
    }
    // The versions files have (or get by the renames above): a moved duplicate
    // must sort before the next of them.
    let taken = used.clone();
    for (version, files) in by_version.iter().filter(|(_, f)| f.len() > 1) {
        let listed = files.iter().map(|(_, f)| *f).collect::<Vec<_>>().join(", ");
        let keep = match history {
            None => {
                notes.push(format!(
                    "{listed} share version {version}: with the database (--db or DATABASE_URL) fix tells which is \
                     applied and gives the other the next free version"
                ));
                continue;
            }
            Some(_) if !applied.contains(version) => 0,
            Some(h) => {
                let named = |name: &str| {
                    h.supabase
                        .iter()
                        .any(|r| r.version == *version && r.name.as_deref() == Some(name))
                        || h.safemig.get(*version).is_some_and(|r| r.name == name)
                };
                match files.iter().position(|(name, _)| named(name)) {
                    Some(i) => i,
                    None => {
                        notes.push(format!(
                            "{listed} share version {version}, which is applied, and the history names neither: \
                             none is renamed; rename the one that was not applied by hand"
                        ));
                        continue;
                    }
                }
            }
        };
        let kept = files[keep].1;
        for (i, (name, file)) in files.iter().enumerate() {
            if i == keep {
                continue;
            }
            let next_taken = taken.iter().find(|v| v.as_str() > *version).cloned();
            let mut free = fix::next_version(version);
            while let Some(v) = free.as_ref().filter(|v| used.contains(*v)) {
                free = fix::next_version(v);
            }
            match free.filter(|v| next_taken.as_ref().is_none_or(|n| v < n)) {
                Some(v) => {
                    used.insert(v.clone());
                    out.push((
                        dir.join(file),
                        dir.join(format!("{v}_{name}.sql")),
                        format!("duplicate version: {kept} has {version} too"),
                    ));
                }
                None => notes.push(format!(
                    "{file} shares version {version} with {kept}, and no version is free right after it: give it \
                     one by hand"
                )),
            }
        }
    }
    out
}

/// A free version right after `path`'s, of the same width, before the next
/// migration's: where a follow-up migration of it goes. `None` when there is none
/// (a longer version would sort before it by file name, as the Supabase CLI orders).
fn follow_up_path(
    set: &safemig_project::MigrationSet,
    path: &Path,
    taken: &[(PathBuf, String)],
) -> Option<PathBuf> {
    let m = set.migrations.iter().find(|m| m.path == path)?;
    let next = set
        .migrations
        .iter()
        .map(|o| o.version.as_str())
        .filter(|v| *v > m.version.as_str())
        .min();
    let used = |v: &str| {
        set.get(v).is_some()
            || taken.iter().any(|(p, _)| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{v}_")))
            })
    };
    let mut version = fix::next_version(&m.version)?;
    while used(&version) {
        version = fix::next_version(&version)?;
    }
    if next.is_some_and(|n| version.as_str() >= n) {
        return None;
    }
    Some(path.with_file_name(format!("{version}_{}_followup.sql", m.name)))
}

/// For each pending migration, the tables (`schema.table`) that pending
/// migrations before it create, write rows into or alter: what the database
/// holds of them now is not what this file will meet. Each file read once.
fn touched_before(
    set: &safemig_project::MigrationSet,
    pending: &[PathBuf],
) -> std::collections::BTreeMap<PathBuf, Vec<String>> {
    let mut touched: Vec<String> = Vec::new();
    let mut out = std::collections::BTreeMap::new();
    for m in set.migrations.iter().filter(|m| pending.contains(&m.path)) {
        out.insert(m.path.clone(), touched.clone());
        touched.extend(fix::touched_tables(&m.sql));
    }
    out
}

fn files_pending(pending: &[PathBuf], path: &Path) -> bool {
    pending.iter().any(|p| p == path)
}

/// Copies the files about to change into `.safemig/fix/<time>/`, modes kept.
fn keep_originals(ctx: &Context, files: &[(PathBuf, String, String)]) -> Result<PathBuf, CliError> {
    let root = ctx
        .audit_file()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".safemig"));
    let dir = root
        .join("fix")
        .join(chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string());
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::input(format!("cannot create {}: {e}", dir.display())))?;
    for (path, before, _) in files {
        let name = path.file_name().unwrap_or_default();
        let copy = dir.join(name);
        std::fs::write(&copy, before)
            .map_err(|e| CliError::input(format!("cannot write {}: {e}", copy.display())))?;
        if let Ok(meta) = std::fs::metadata(path) {
            let _ = std::fs::set_permissions(&copy, meta.permissions());
        }
    }
    Ok(dir)
}

/// Replaces `path` by `text` through a temporary file beside it (never half
/// written), with the original's permissions.
fn write_keeping_mode(path: &Path, text: &str) -> Result<(), CliError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| CliError::input(format!("cannot write in {}: {e}", dir.display())))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = tmp.as_file().set_permissions(meta.permissions());
    }
    tmp.persist(path)
        .map_err(|e| CliError::input(format!("cannot replace {}: {e}", path.display())))?;
    Ok(())
}
