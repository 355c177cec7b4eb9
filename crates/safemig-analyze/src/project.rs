//! The analysis of a set of migration files as a whole, for the CLI, an editor
//! or a CI action: each file through the rules, then the set through the
//! cross-migration replay (use before create, a proposed order that works,
//! duplicate versions), whose findings join their files. Pure: it takes the
//! files' text and returns the report.
//!
//! ```
//! use safemig_analyze::project::{analyse, Options};
//! use safemig_analyze::order::Live;
//! use std::path::Path;
//! let report = analyse(
//!     [(Path::new("1_trigger.sql"), Some("1".to_string()), "CREATE TRIGGER t AFTER INSERT ON public.a FOR EACH ROW EXECUTE FUNCTION public.f();"),
//!      (Path::new("2_function.sql"), Some("2".to_string()), "CREATE FUNCTION public.f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;")],
//!     &Options::default(),
//!     &Live::default(),
//! );
//! assert!(report.files[0].all_findings().iter().any(|f| f.rule == "use-before-create"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::lint::{Finding, LintOptions};
use crate::order::{self, Migration, OrderReport};
use crate::{lint_file, Class, FileLint, Severity};

/// What the analysis of a set takes besides the files.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub lint: LintOptions,
    /// Objects that exist without any migration creating them (`[check] externals`).
    pub externals: BTreeSet<String>,
}

/// One file, analysed.
#[derive(Debug, Clone, Serialize)]
pub struct CheckedFile {
    pub path: PathBuf,
    pub version: Option<String>,
    #[serde(skip)]
    pub file_name: String,
    pub class: Class,
    pub findings: Vec<Finding>,
    pub statements: Vec<crate::lint::StatementLint>,
    /// What each statement creates, drops and uses: the parse trees are dropped
    /// as soon as these are taken. Moved into the replay (empty afterwards).
    #[serde(skip)]
    pub steps: Vec<order::Step>,
}

/// The whole analysis of a set of files.
#[derive(Debug, Clone, Default)]
pub struct CheckRun {
    pub files: Vec<CheckedFile>,
    /// Findings about the live database itself (`check --db`).
    pub database: Vec<Finding>,
}

impl CheckRun {
    pub fn get(&self, version: &str) -> Option<&CheckedFile> {
        self.files
            .iter()
            .find(|f| f.version.as_deref() == Some(version))
    }
}

/// Analyses files given as (path, text), in the order given (versions ascending
/// for a migrations folder): each file through the rules, then the set through
/// the cross-migration replay, whose findings join their files.
pub fn analyse<'a>(
    inputs: impl IntoIterator<Item = (&'a Path, Option<String>, &'a str)>,
    options: &Options,
    live: &order::Live,
) -> CheckRun {
    let files = inputs
        .into_iter()
        .map(|(path, version, sql)| check_file(path.to_path_buf(), version, sql, &options.lint))
        .collect();
    finish(files, options, live)
}

/// Lints one file and takes what the replay needs. The text and its parse trees
/// are dropped when this returns: what a file leaves behind is its findings and
/// its objects, so memory follows the largest file, not the whole set.
pub fn check_file(
    path: PathBuf,
    version: Option<String>,
    sql: &str,
    options: &LintOptions,
) -> CheckedFile {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
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

/// What the cross-file analysis keeps of one file: its name and version.
pub struct FileKey {
    pub version: Option<String>,
    pub file_name: String,
}

/// The findings that come from the set of files rather than from one: duplicate
/// versions and the replay, by file index; and the live database's own.
pub struct CrossFile {
    pub per_file: BTreeMap<usize, Vec<Finding>>,
    pub order: OrderReport,
    pub database: Vec<Finding>,
}

/// The cross-file replay, fed one file at a time in version order: each file's
/// objects go into it as soon as the file is read, and are not kept.
pub struct Ordering<'a> {
    replay: order::Replay<'a>,
    /// Trigger functions some migration attaches (for `check --db`).
    attached: BTreeSet<String>,
    /// The file index of each migration in the replay.
    versioned: Vec<usize>,
}

impl<'a> Ordering<'a> {
    pub fn new(externals: &'a BTreeSet<String>, live: &'a order::Live) -> Ordering<'a> {
        Ordering {
            replay: order::Replay::new(externals, live),
            attached: BTreeSet::new(),
            versioned: Vec::new(),
        }
    }

    pub fn add(&mut self, index: usize, key: &FileKey, steps: Vec<order::Step>) {
        self.attached.extend(steps.iter().filter_map(|s| {
            s.effects
                .trigger_function
                .as_deref()
                .map(|(_, f)| f.to_string())
        }));
        if let Some(version) = &key.version {
            self.replay
                .add(self.versioned.len(), version, &key.file_name, steps);
            self.versioned.push(index);
        }
    }
}

/// Finishes the replay and gathers every cross-file finding. A proposed order is
/// checked by replaying the migrations in it again, with the objects
/// `steps_again` gives for a file (by file index; `None` when it cannot).
pub fn cross_file(
    keys: &[FileKey],
    ordering: Ordering,
    options: &Options,
    live: &order::Live,
    steps_again: &mut dyn FnMut(usize) -> Option<Vec<order::Step>>,
) -> CrossFile {
    let lint = &options.lint;
    let mut per_file: BTreeMap<usize, Vec<Finding>> = BTreeMap::new();

    // duplicate-version: each file of a pair says which other file shares its version.
    let mut by_version: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        if let Some(v) = &k.version {
            by_version.entry(v.as_str()).or_default().push(i);
        }
    }
    for (version, indexes) in by_version.iter().filter(|(_, list)| list.len() > 1) {
        for &i in indexes {
            let others: Vec<&str> = indexes
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| keys[j].file_name.as_str())
                .collect();
            let message = format!("version {version} is also used by {}", others.join(", "));
            per_file.entry(i).or_default().push(file_finding(
                "duplicate-version",
                Severity::Risky,
                message,
                "give one of the files a new, later version",
            ));
        }
    }

    let Ordering {
        replay,
        attached,
        versioned,
    } = ordering;
    let mut replay_in = |proposed: &[usize]| {
        let mut again = order::Replay::new(&options.externals, live);
        for &m in proposed {
            let i = versioned[m];
            again.add(
                m,
                keys[i].version.as_deref().unwrap_or(""),
                &keys[i].file_name,
                steps_again(i)?,
            );
        }
        Some(again.finish())
    };
    let order = order::conclude(replay.finish(), versioned.len(), live, &mut replay_in);
    for f in &order.findings {
        let Some(severity) = lint.severity_of(f.rule, f.severity) else {
            continue;
        };
        per_file
            .entry(versioned[f.migration])
            .or_default()
            .push(Finding {
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
            });
    }
    let severity = lint.severity_of("unattached-trigger-function", Severity::Review);
    let database = live
        .unattached_trigger_functions
        .iter()
        .filter(|f| !attached.contains(&f.to_string()))
        .filter_map(|f| {
            let help = format!(
                "attach it in a new migration: CREATE TRIGGER ... FOR EACH ROW EXECUTE FUNCTION {}.{}();",
                f.schema, f.name
            );
            let message = format!("{f} returns trigger, but no trigger in the database or the migrations executes it");
            Some(Finding::new("unattached-trigger-function", severity?, message, Some(help), 1, 1))
        })
        .collect();
    CrossFile {
        per_file,
        order,
        database,
    }
}

/// Joins cross-file findings to their file: to their statement when they name
/// one, else to the file; classes follow.
pub fn merge(file: &mut CheckedFile, extra: Vec<Finding>) {
    for finding in extra {
        match finding
            .statement
            .and_then(|n| file.statements.iter_mut().find(|s| s.index == n))
        {
            Some(s) => {
                s.findings.push(finding);
                s.class = Class::of(s.findings.iter().map(|f| &f.severity));
            }
            None => file.findings.push(finding),
        }
    }
    file.class = Class::of(
        file.findings
            .iter()
            .chain(file.statements.iter().flat_map(|s| &s.findings))
            .map(|x| &x.severity),
    );
}

pub fn key_of(file: &CheckedFile) -> FileKey {
    FileKey {
        version: file.version.clone(),
        file_name: file.file_name.clone(),
    }
}

/// The cross-file findings (duplicate versions, the replay, the live database's
/// own), joined to the files they are about; all files in memory.
pub fn finish(mut files: Vec<CheckedFile>, options: &Options, live: &order::Live) -> CheckRun {
    let keys: Vec<FileKey> = files.iter().map(key_of).collect();
    let mut ordering = Ordering::new(&options.externals, live);
    // Kept for the replay of a proposed order.
    let mut kept: BTreeMap<usize, Vec<order::Step>> = BTreeMap::new();
    for (i, f) in files.iter_mut().enumerate() {
        let steps = std::mem::take(&mut f.steps);
        if f.version.is_some() {
            kept.insert(i, steps.clone());
        }
        ordering.add(i, &keys[i], steps);
    }
    let cross = cross_file(&keys, ordering, options, live, &mut |i| {
        kept.get(&i).cloned()
    });
    for (i, extra) in cross.per_file {
        merge(&mut files[i], extra);
    }
    CheckRun {
        files,
        database: cross.database,
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

/// Looks like a handler of new sign-ups (`handle_new_user`, `on_user_created`, ...).
pub fn is_new_user_handler(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["new_user", "user_created", "new_auth_user", "user_signup"]
        .iter()
        .any(|p| name.contains(p))
}

/// The function of the migrations that handles new sign-ups (`handle_new_user`,
/// `on_user_created`, ...), the table its body inserts into, and the trigger on
/// `auth.users` that runs it, if one does: (`public.handle_new_user()`,
/// `public.profiles`, `on_auth_user_created`). The last one defined wins.
pub fn new_user_handler<'a>(
    sqls: impl IntoIterator<Item = &'a str>,
) -> Option<(String, String, Option<String>)> {
    use pg_query::NodeEnum;
    let mut found: Option<(String, String, Option<String>)> = None;
    let mut triggers: Vec<(String, String)> = Vec::new();
    for sql in sqls {
        for s in crate::parse::parse_file(sql).statements {
            let node = s.node();
            if let Some(NodeEnum::CreateTrigStmt(t)) = &node {
                if t.relation
                    .as_ref()
                    .is_some_and(|r| r.schemaname == "auth" && r.relname == "users")
                {
                    triggers.push((
                        t.trigname.clone(),
                        crate::rules::function_name(&t.funcname).name,
                    ));
                }
            }
            let Some(NodeEnum::CreateFunctionStmt(f)) = node else {
                continue;
            };
            let name = crate::rules::function_name(&f.funcname);
            if !is_new_user_handler(&name.name) {
                continue;
            }
            let table = crate::plpgsql::from_function(&s.text)
                .ok()
                .and_then(|embedded| {
                    embedded.into_iter().find_map(|e| {
                        let parsed =
                            pg_query::parse(&e.query, pg_query::ParserOptions::default()).ok()?;
                        parsed.protobuf.stmts.iter().find_map(|r| {
                            match r.stmt.as_ref().and_then(|n| n.node.as_ref()) {
                                Some(NodeEnum::InsertStmt(i)) => i.relation.as_ref().map(|r| {
                                    format!(
                                        "{}.{}",
                                        if r.schemaname.is_empty() {
                                            "public"
                                        } else {
                                            &r.schemaname
                                        },
                                        r.relname
                                    )
                                }),
                                _ => None,
                            }
                        })
                    })
                });
            if let Some(table) = table {
                let schema = if name.schema.is_empty() {
                    "public".to_string()
                } else {
                    name.schema.clone()
                };
                found = Some((format!("{schema}.{}()", name.name), table, None));
            }
        }
    }
    found.map(|(function, table, _)| {
        let bare = function
            .rsplit('.')
            .next()
            .unwrap_or(&function)
            .trim_end_matches("()")
            .to_string();
        let trigger = triggers
            .iter()
            .rev()
            .find(|(_, f)| *f == bare)
            .map(|(t, _)| t.clone());
        (function, table, trigger)
    })
}
