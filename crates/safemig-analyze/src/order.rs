//! Across migrations, in version order: replay what each statement creates and
//! drops, and report every use of an object that does not exist yet at that point
//! but that a later migration (or a later statement of the same file) creates —
//! the seed's trigger migration that ran before the baseline creating its
//! function. Proposes a version order that works, and checks that it does.
//!
//! Objects no migration creates (Supabase's `auth.users`, `extensions`, built-in
//! types and functions) are assumed to exist: they are never reported.

use std::collections::{BTreeMap, BTreeSet};

use pg_query::NodeEnum;
use serde::Serialize;

use crate::objects::{effects, effects_with, Effects, ObjectId, ObjectKind};
use crate::parse::Statement;
use crate::plpgsql;
use crate::rules::Severity;

/// One migration, as the replay needs it.
#[derive(Debug, Clone, Copy)]
pub struct Migration<'a> {
    pub version: &'a str,
    /// The file name, for messages.
    pub label: &'a str,
    pub sql: &'a str,
    pub statements: &'a [Statement],
}

/// What a live database already has (`check --db`).
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub objects: BTreeSet<ObjectId>,
    /// For objects the migrations drop with CASCADE: what depends on each in the
    /// database (`pg_depend`, described by PostgreSQL: `policy p on table t`, ...).
    pub cascade_dependents: BTreeMap<ObjectId, Vec<String>>,
    /// Functions that a trigger in the database executes.
    pub trigger_functions: BTreeSet<ObjectId>,
    /// Functions in the database that `RETURNS trigger` and that no trigger executes.
    pub unattached_trigger_functions: Vec<ObjectId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderFinding {
    /// Index of the migration in the input.
    #[serde(skip)]
    pub migration: usize,
    pub rule: &'static str,
    pub severity: Severity,
    /// 1-based statement index in its file.
    pub statement: usize,
    pub line: usize,
    pub column: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// For `use-before-create`: the migration that creates the object.
    #[serde(skip)]
    pub creator: Option<usize>,
    /// The object exists in the live database (`check --db`): this breaks only on
    /// a fresh database (`supabase db reset`, branches, CI), not on this one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fresh_only: bool,
    /// The object a `use-before-create` is about.
    #[serde(skip)]
    pub used: Option<ObjectId>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OrderReport {
    pub findings: Vec<OrderFinding>,
    /// When migrations use objects that later migrations create: an order of the
    /// input indices in which no migration does (checked by replaying it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_order: Option<Vec<usize>>,
    /// The migrations depend on each other in a circle: no order works.
    pub cycle: bool,
}

/// One statement's effects, placed in its file: all the replay needs, so a
/// caller can drop the parse trees of a file as soon as its steps are taken.
#[derive(Debug, Clone)]
pub struct Step {
    pub statement: usize,
    pub line: usize,
    pub column: usize,
    pub effects: Effects,
}

pub fn analyze(migrations: &[Migration<'_>], externals: &BTreeSet<String>) -> OrderReport {
    analyze_with(migrations, externals, &Live::default())
}

/// [`analyze`], knowing what a live database already has.
pub fn analyze_with(
    migrations: &[Migration<'_>],
    externals: &BTreeSet<String>,
    live: &Live,
) -> OrderReport {
    let steps: Vec<Vec<Step>> = migrations.iter().map(steps_of).collect();
    analyze_steps(migrations, steps, externals, live)
}

/// [`analyze_with`] from steps already taken ([`steps_of`]); `migrations` need
/// only their version and label then (their statements may be empty).
pub fn analyze_steps(
    migrations: &[Migration<'_>],
    steps: Vec<Vec<Step>>,
    externals: &BTreeSet<String>,
    live: &Live,
) -> OrderReport {
    let run = |order: &[usize]| {
        let mut replay = Replay::new(externals, live);
        for &m in order {
            replay.add(
                m,
                migrations[m].version,
                migrations[m].label,
                steps[m].clone(),
            );
        }
        replay.finish()
    };
    let identity: Vec<usize> = (0..migrations.len()).collect();
    let findings = run(&identity);
    conclude(findings, migrations.len(), live, &mut |order| {
        Some(run(order))
    })
}

/// The replay's findings made a report: uses of objects the live database has
/// are marked as breaking only a fresh database, and when migrations use what
/// later ones create, an order that works is proposed, checked by replaying the
/// migrations in it again (`replay_in`, given the order as input indices).
pub fn conclude(
    mut findings: Vec<OrderFinding>,
    migrations: usize,
    live: &Live,
    replay_in: &mut dyn FnMut(&[usize]) -> Option<Vec<OrderFinding>>,
) -> OrderReport {
    for f in &mut findings {
        if f.rule == "use-before-create"
            && f.used.as_ref().is_some_and(|u| live.objects.contains(u))
        {
            f.fresh_only = true;
            f.message
                .push_str(" (it exists in the database: this breaks only on a fresh database)");
        }
    }
    let mut report = OrderReport::default();
    let cross_file: Vec<(usize, usize)> = findings
        .iter()
        .filter(|f| f.rule == "use-before-create")
        .filter_map(|f| {
            f.creator
                .filter(|&c| c != f.migration)
                .map(|c| (c, f.migration))
        })
        .collect();
    if !cross_file.is_empty() {
        match topological(migrations, &cross_file) {
            Some(order) => {
                // The proposal must itself be free of cross-file use-before-create.
                // A replay that could not run (a file gone) proves nothing: no proposal.
                let still = replay_in(&order).is_none_or(|again| {
                    again.iter().any(|f| {
                        f.rule == "use-before-create" && f.creator.is_some_and(|c| c != f.migration)
                    })
                });
                if !still {
                    report.proposed_order = Some(order);
                }
            }
            None => report.cycle = true,
        }
    }
    findings.sort_by_key(|f| (f.migration, f.statement));
    report.findings = findings;
    report
}

/// What each statement of a migration creates, drops and uses.
pub fn steps_of(m: &Migration<'_>) -> Vec<Step> {
    let mut steps = Vec::new();
    // A file's own `SET check_function_bodies` holds for its later statements
    // (safemig runs each migration in a fresh session, as the Supabase CLI does).
    let mut check_function_bodies = true;
    for (i, s) in m.statements.iter().enumerate() {
        let tree = s.node();
        let Some(node) = tree.as_ref() else {
            continue;
        };
        if let Some(on) = sets_check_function_bodies(node) {
            check_function_bodies = on;
        }
        let (line, column) = (s.code_line, s.code_column);
        let mut e = effects_with(node, check_function_bodies);
        // What a DO block does counts as what its statement does.
        if let NodeEnum::DoStmt(d) = node {
            if let Some(body) = crate::lint::def_string(&d.args, "as") {
                for embedded in plpgsql::from_do_body(&body)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|x| !x.dynamic)
                {
                    let Ok(parsed) =
                        pg_query::parse(&embedded.query, pg_query::ParserOptions::default())
                    else {
                        continue;
                    };
                    for raw in &parsed.protobuf.stmts {
                        if let Some(n) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) {
                            let inner = effects(n);
                            // A guarded statement runs only when the catalog says so: its uses are not certain.
                            if !embedded.guarded {
                                e.uses.extend(inner.uses);
                            }
                            e.creates.extend(inner.creates);
                            e.drops.extend(inner.drops);
                        }
                    }
                }
            }
        }
        // Kept for every statement of every file until the replay: no spare
        // capacity, and nothing for statements that create, drop and use nothing.
        let empty = e.creates.is_empty()
            && e.drops.is_empty()
            && e.uses.is_empty()
            && e.trigger_function.is_none()
            && e.creates_trigger_function.is_none();
        if empty {
            continue;
        }
        for list in [&mut e.creates, &mut e.drops, &mut e.uses] {
            list.shrink_to_fit();
        }
        steps.push(Step {
            statement: i + 1,
            line,
            column,
            effects: e,
        });
    }
    steps.shrink_to_fit();
    steps
}

/// `SET [SESSION|LOCAL] check_function_bodies = ...` / `RESET`: the new value.
fn sets_check_function_bodies(node: &NodeEnum) -> Option<bool> {
    let NodeEnum::VariableSetStmt(v) = node else {
        return None;
    };
    if !v.name.eq_ignore_ascii_case("check_function_bodies") {
        return None;
    }
    let value = v.args.first().and_then(|a| match a.node.as_ref() {
        Some(NodeEnum::AConst(c)) => match c.val.as_ref() {
            Some(pg_query::protobuf::a_const::Val::Sval(s)) => Some(s.sval.to_ascii_lowercase()),
            Some(pg_query::protobuf::a_const::Val::Boolval(b)) => Some(b.boolval.to_string()),
            Some(pg_query::protobuf::a_const::Val::Ival(i)) => Some(i.ival.to_string()),
            _ => None,
        },
        _ => None,
    });
    Some(!matches!(
        value.as_deref(),
        Some("false" | "off" | "no" | "0" | "f" | "n")
    ))
}

fn is_external(id: &ObjectId, externals: &BTreeSet<String>) -> bool {
    externals.contains(&format!("{}.{}", id.schema, id.name))
        || externals.contains(id.schema.as_str())
}

/// A use of an object that did not exist yet when its statement ran: a finding
/// as soon as a later statement creates the object.
struct Pending {
    /// When the use was seen: findings come out in the order of their causes.
    seq: u64,
    migration: usize,
    label: String,
    statement: usize,
    line: usize,
    column: usize,
}

/// The replay, fed one migration at a time in the order being checked. Each
/// migration's steps are consumed as they come: what is kept is the live set of
/// objects, the uses still waiting for their object, and the trigger functions,
/// so a caller can stream any number of files through it.
pub struct Replay<'a> {
    externals: &'a BTreeSet<String>,
    database: &'a Live,
    live: BTreeSet<ObjectId>,
    /// trigger -> (the function it executes, the label of the migration that made it)
    trigger_functions: BTreeMap<ObjectId, (ObjectId, String)>,
    pending: BTreeMap<ObjectId, Vec<Pending>>,
    /// Every function some trigger in the migrations executes.
    executed: BTreeSet<ObjectId>,
    /// Where each `RETURNS trigger` function is first created.
    trigger_function_defs: BTreeMap<ObjectId, Pending>,
    /// Objects the migrations made that PostgreSQL records as depending on
    /// others (policies, views, tables, indexes, triggers): what they use, and where
    /// they were made. What a `DROP ... CASCADE` takes along.
    dependents: BTreeMap<ObjectId, (Vec<ObjectId>, String, bool)>,
    findings: Vec<(u64, OrderFinding)>,
    seq: u64,
}

impl<'a> Replay<'a> {
    pub fn new(externals: &'a BTreeSet<String>, database: &'a Live) -> Replay<'a> {
        Replay {
            externals,
            database,
            live: BTreeSet::new(),
            trigger_functions: BTreeMap::new(),
            pending: BTreeMap::new(),
            executed: BTreeSet::new(),
            trigger_function_defs: BTreeMap::new(),
            dependents: BTreeMap::new(),
            findings: Vec::new(),
            seq: 0,
        }
    }

    /// Replays one migration; `migration` is its index in the caller's input.
    pub fn add(&mut self, migration: usize, version: &str, label: &str, steps: Vec<Step>) {
        for step in steps {
            // Uses wait until after this step's own creations: an object is not
            // "created later" by the statement that uses it.
            let mut waiting = Vec::new();
            // What a created policy, view, table, index or trigger depends on.
            let records_dependencies = step.effects.creates.iter().any(|c| {
                matches!(
                    c.kind,
                    ObjectKind::Policy
                        | ObjectKind::Relation
                        | ObjectKind::Index
                        | ObjectKind::Trigger
                )
            });
            let dependencies = if records_dependencies {
                step.effects.uses.clone()
            } else {
                Vec::new()
            };
            for used in step.effects.uses {
                if self.live.contains(&used) || is_external(&used, self.externals) {
                    continue;
                }
                self.seq += 1;
                waiting.push((self.seq, used));
            }
            if step.effects.cascade {
                let reached = self.cascade_reach(&step.effects.drops);
                if !reached.is_empty() {
                    self.seq += 1;
                    self.findings.push((self.seq, OrderFinding {
                        migration,
                        rule: "cascade-reaches",
                        severity: Severity::Risky,
                        statement: step.statement,
                        line: step.line,
                        column: step.column,
                        message: format!(
                            "with CASCADE this also drops (or cuts out of them what depends on it): {}",
                            reached.join("; ")
                        ),
                        help: Some(
                            "drop or change those first, on purpose, and drop without CASCADE: PostgreSQL then \
                             refuses if anything still depends on it"
                                .into(),
                        ),
                        creator: None,
                        fresh_only: false,
                        used: None,
                    }));
                }
            }
            for dropped in &step.effects.drops {
                self.dependents.remove(dropped);
                if dropped.kind == ObjectKind::Function {
                    for (trigger, (function, by)) in &self.trigger_functions {
                        if function == dropped && self.live.contains(trigger) {
                            self.seq += 1;
                            self.findings.push((self.seq, OrderFinding {
                                migration,
                                rule: "drop-function",
                                severity: Severity::Risky,
                                statement: step.statement,
                                line: step.line,
                                column: step.column,
                                message: format!(
                                    "drops {dropped}, which {trigger} (created by {by}) still executes: the DROP fails, \
                                     or with CASCADE silently drops the trigger"
                                ),
                                help: Some("use CREATE OR REPLACE FUNCTION to change a trigger function in place".into()),
                                creator: None,
                                fresh_only: false,
                                used: None,
                            }));
                        }
                    }
                }
                drop_object(&mut self.live, dropped);
            }
            if !dependencies.is_empty() {
                for created in &step.effects.creates {
                    self.dependents.insert(
                        created.clone(),
                        (
                            dependencies.clone(),
                            format!("{label}:{}", step.line),
                            // Dropped whole by a CASCADE: all but a table.
                            created.kind != ObjectKind::Relation || step.effects.creates_view,
                        ),
                    );
                }
            }
            for created in step.effects.creates {
                for p in self.pending.remove(&created).unwrap_or_default() {
                    let (message, help) = if p.migration == migration {
                        (
                            format!("{created} is used here, but created only later in this file (line {})", step.line),
                            "move the statement that creates it before this one".to_string(),
                        )
                    } else {
                        (
                            format!("{created} is used here, but created only by a later migration: {label}:{}", step.line),
                            format!(
                                "this fails on a fresh database (supabase db reset, branches, CI); give {} a version after {version}, \
                                 or create the object in this migration first",
                                p.label
                            ),
                        )
                    };
                    self.findings.push((
                        p.seq,
                        OrderFinding {
                            migration: p.migration,
                            rule: "use-before-create",
                            severity: Severity::Risky,
                            statement: p.statement,
                            line: p.line,
                            column: p.column,
                            message,
                            help: Some(help),
                            creator: Some(migration),
                            fresh_only: false,
                            used: Some(created.clone()),
                        },
                    ));
                }
                self.live.insert(created);
            }
            for (seq, used) in waiting {
                self.pending.entry(used).or_default().push(Pending {
                    seq,
                    migration,
                    label: label.to_string(),
                    statement: step.statement,
                    line: step.line,
                    column: step.column,
                });
            }
            if let Some(pair) = step.effects.trigger_function {
                let (trigger, function) = *pair;
                self.executed.insert(function.clone());
                self.trigger_functions
                    .insert(trigger, (function, label.to_string()));
            }
            if let Some(function) = step.effects.creates_trigger_function {
                self.trigger_function_defs
                    .entry(*function)
                    .or_insert(Pending {
                        seq: 0,
                        migration,
                        label: label.to_string(),
                        statement: step.statement,
                        line: step.line,
                        column: step.column,
                    });
            }
        }
    }

    /// What a `DROP ... CASCADE` of `dropped` takes along: objects the migrations
    /// made that use one of them (and, in turn, what uses those), and what depends
    /// on them in the database (`check --db`). Each described with where it was made.
    fn cascade_reach(&self, dropped: &[ObjectId]) -> Vec<String> {
        let mut reached: Vec<String> = Vec::new();
        let mut seen: BTreeSet<ObjectId> = dropped.iter().cloned().collect();
        let mut frontier: Vec<ObjectId> = dropped.to_vec();
        while let Some(gone) = frontier.pop() {
            for (object, (uses, made_at, whole)) in &self.dependents {
                if seen.contains(object) || !self.live.contains(object) || !uses.contains(&gone) {
                    continue;
                }
                // A table's own policies, triggers and indexes go with it, CASCADE or not.
                let on_it = format!("{}.{}", gone.schema, gone.name);
                if object.on.as_deref() == Some(on_it.as_str()) {
                    continue;
                }
                // A table only loses what uses the object (a default, a foreign key,
                // a column of its type); a policy, view, index or trigger goes whole.
                seen.insert(object.clone());
                if *whole {
                    reached.push(format!("{object} (made at {made_at})"));
                    // What depends on it goes too.
                    frontier.push(object.clone());
                } else {
                    // The table stays: only its default, foreign key or column goes.
                    reached.push(format!(
                        "what {object} (made at {made_at}) takes from {gone}"
                    ));
                }
            }
            if let Some(found) = self.database.cascade_dependents.get(&gone) {
                reached.extend(found.iter().map(|d| format!("{d} (in the database)")));
            }
        }
        reached
    }

    /// The findings: uses that a later creation resolved, dropped trigger
    /// functions, and trigger functions that no trigger executes.
    pub fn finish(mut self) -> Vec<OrderFinding> {
        for (function, at) in self.trigger_function_defs {
            if self.executed.contains(&function)
                || self.database.trigger_functions.contains(&function)
            {
                continue;
            }
            self.findings.push((u64::MAX, OrderFinding {
                migration: at.migration,
                rule: "unattached-trigger-function",
                severity: Severity::Review,
                statement: at.statement,
                line: at.line,
                column: at.column,
                message: format!(
                    "{function} returns trigger, but no trigger executes it (in the migrations, or the database with --db)"
                ),
                help: Some(format!(
                    "attach it: CREATE TRIGGER ... FOR EACH ROW EXECUTE FUNCTION {}.{}(); (in {} or a later migration)",
                    function.schema, function.name, at.label
                )),
                creator: None,
                fresh_only: false,
                used: None,
            }));
        }
        // In the order of their causes, as a replay that looked ahead would give them.
        self.findings.sort_by_key(|(seq, _)| *seq);
        self.findings.into_iter().map(|(_, f)| f).collect()
    }
}

/// Removes an object, and what cannot outlive it (a schema's objects, a table's triggers).
fn drop_object(live: &mut BTreeSet<ObjectId>, dropped: &ObjectId) {
    live.remove(dropped);
    match dropped.kind {
        ObjectKind::Schema => {
            live.retain(|o| o.schema != dropped.name || o.kind == ObjectKind::Schema)
        }
        ObjectKind::Relation => {
            let table = format!("{}.{}", dropped.schema, dropped.name);
            live.retain(|o| o.on.as_deref() != Some(table.as_str()));
        }
        _ => {}
    }
}

/// Kahn's algorithm over `edges` (before, after), always taking the earliest
/// migration that is free: the proposal moves as little as possible.
fn topological(n: usize, edges: &[(usize, usize)]) -> Option<Vec<usize>> {
    let mut incoming = vec![0usize; n];
    let mut outgoing: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for &(before, after) in edges {
        if outgoing[before].insert(after) {
            incoming[after] += 1;
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| incoming[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(&next) = ready.iter().next() {
        ready.remove(&next);
        order.push(next);
        for &after in &outgoing[next] {
            incoming[after] -= 1;
            if incoming[after] == 0 {
                ready.insert(after);
            }
        }
    }
    (order.len() == n).then_some(order)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sql_function_bodies_are_not_resolved_when_check_function_bodies_is_off() {
        // pg_dump's own preamble: the function reads a table created further down.
        let body = "CREATE FUNCTION public.n() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM public.items $$;\n\
                    CREATE TABLE public.items (id int);";
        let off = format!("SET check_function_bodies = false;\n{body}");
        let count = |sql: &str| {
            let statements = crate::split(sql).unwrap();
            let m = super::Migration {
                version: "1",
                label: "1_base.sql",
                sql,
                statements: &statements,
            };
            super::analyze(&[m], &Default::default())
                .findings
                .iter()
                .filter(|f| f.rule == "use-before-create")
                .count()
        };
        assert_eq!(
            count(body),
            1,
            "PostgreSQL resolves the body at CREATE by default"
        );
        assert_eq!(count(&off), 0, "not with check_function_bodies off");
        assert_eq!(
            count(&format!(
                "SET check_function_bodies = off;\nRESET check_function_bodies;\n{body}"
            )),
            1
        );
    }

    use super::*;
    use crate::parse::split;

    fn run(files: &[(&str, &str)]) -> OrderReport {
        run_with(files, &Live::default())
    }

    fn run_with(files: &[(&str, &str)], live: &Live) -> OrderReport {
        let parsed: Vec<(String, Vec<Statement>)> = files
            .iter()
            .map(|(name, sql)| (name.to_string(), split(sql).unwrap()))
            .collect();
        let migrations: Vec<Migration> = files
            .iter()
            .zip(&parsed)
            .map(|((name, sql), (_, statements))| Migration {
                version: name.split('_').next().unwrap(),
                label: name,
                sql,
                statements,
            })
            .collect();
        analyze_with(&migrations, &BTreeSet::new(), live)
    }

    fn rules(report: &OrderReport) -> Vec<(&str, usize)> {
        report
            .findings
            .iter()
            .map(|f| (f.rule, f.migration))
            .collect()
    }

    const FUNCTION: &str = "CREATE TABLE public.users (id uuid PRIMARY KEY);\n\
        CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.users (id) VALUES (NEW.id); RETURN NEW; END $$;";
    const TRIGGER: &str = "DROP TRIGGER IF EXISTS on_auth_user_created ON auth.users;\n\
        CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();";

    #[test]
    fn the_seed_trigger_before_its_function() {
        let report = run(&[
            ("20250101000000_add_user_creation_trigger.sql", TRIGGER),
            ("20250831022018_baseline_schema.sql", FUNCTION),
        ]);
        assert_eq!(rules(&report), [("use-before-create", 0)]);
        let f = &report.findings[0];
        assert_eq!((f.statement, f.line), (2, 2));
        assert!(
            f.message.contains("public.handle_new_user()")
                && f.message.contains("20250831022018_baseline_schema.sql:2"),
            "{}",
            f.message
        );
        assert_eq!(report.proposed_order, Some(vec![1, 0]));
        // In the right order: nothing to say.
        let report = run(&[("1_baseline.sql", FUNCTION), ("2_trigger.sql", TRIGGER)]);
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert_eq!(report.proposed_order, None);
    }

    #[test]
    fn a_cascade_names_what_the_migrations_made_that_it_takes_along() {
        let report = run(&[
            (
                "1_admin.sql",
                "CREATE FUNCTION public.is_admin() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;\n\
                 CREATE TABLE public.docs (id int PRIMARY KEY, body text);\n\
                 CREATE POLICY admins ON public.docs USING (public.is_admin());\n\
                 CREATE VIEW public.admin_docs AS SELECT * FROM public.docs WHERE public.is_admin();\n\
                 CREATE VIEW public.admin_doc_ids AS SELECT id FROM public.admin_docs;",
            ),
            ("2_drop.sql", "DROP FUNCTION public.is_admin() CASCADE;"),
        ]);
        let cascade: Vec<&OrderFinding> = report
            .findings
            .iter()
            .filter(|f| f.rule == "cascade-reaches")
            .collect();
        assert_eq!(cascade.len(), 1, "{:?}", report.findings);
        let message = &cascade[0].message;
        for expected in [
            "policy `admins` on `public.docs` (made at 1_admin.sql:3)",
            "table `public.admin_docs` (made at 1_admin.sql:4)",
            // In turn, the view built on that view.
            "table `public.admin_doc_ids` (made at 1_admin.sql:5)",
        ] {
            assert!(message.contains(expected), "{expected}: {message}");
        }
        assert_eq!(cascade[0].migration, 1);
        // Without CASCADE, or of what nothing uses, nothing is said.
        let report = run(&[
            ("1_admin.sql", "CREATE FUNCTION public.is_admin() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;"),
            ("2_drop.sql", "DROP FUNCTION public.is_admin() CASCADE;"),
        ]);
        assert!(
            report.findings.iter().all(|f| f.rule != "cascade-reaches"),
            "{:?}",
            report.findings
        );
    }

    #[test]
    fn a_cascade_names_what_depends_on_it_in_the_database() {
        let mut live = Live::default();
        live.cascade_dependents.insert(
            ObjectId::new(ObjectKind::Type, "public", "mood"),
            vec!["column feeling of table public.diary".into()],
        );
        let report = run_with(&[("1_drop.sql", "DROP TYPE public.mood CASCADE;")], &live);
        let cascade = report
            .findings
            .iter()
            .find(|f| f.rule == "cascade-reaches")
            .expect("a finding");
        assert!(
            cascade
                .message
                .contains("column feeling of table public.diary (in the database)"),
            "{}",
            cascade.message
        );
    }

    #[test]
    fn alter_view_and_foreign_key_before_their_table() {
        let report = run(&[
            (
                "1_alter.sql",
                "ALTER TABLE public.tracks ADD COLUMN bpm int;",
            ),
            (
                "2_view.sql",
                "CREATE VIEW public.long_tracks AS SELECT * FROM public.tracks WHERE bpm > 100;",
            ),
            (
                "3_fk.sql",
                "CREATE TABLE public.plays (track_id int REFERENCES public.tracks (id));",
            ),
            (
                "4_tracks.sql",
                "CREATE TABLE public.tracks (id int PRIMARY KEY);",
            ),
        ]);
        assert_eq!(
            rules(&report),
            [
                ("use-before-create", 0),
                ("use-before-create", 1),
                ("use-before-create", 2)
            ]
        );
        assert_eq!(report.proposed_order, Some(vec![3, 0, 1, 2]));
    }

    #[test]
    fn within_a_file_and_a_cycle() {
        let report = run(&[(
            "1_a.sql",
            "CREATE INDEX i ON t (a);\nCREATE TABLE t (a int);",
        )]);
        assert_eq!(rules(&report), [("use-before-create", 0)]);
        assert!(report.findings[0]
            .message
            .contains("later in this file (line 2)"));
        let report = run(&[
            ("1_a.sql", "CREATE TABLE a (id int PRIMARY KEY);\nCREATE VIEW va AS SELECT * FROM b;"),
            ("2_b.sql", "CREATE TABLE b (id int PRIMARY KEY);\nCREATE VIEW vb AS SELECT * FROM a;\nCREATE VIEW vc AS SELECT * FROM va;"),
        ]);
        assert_eq!(
            report.proposed_order, None,
            "no version order works: each file needs the other"
        );
    }

    #[test]
    fn what_a_do_block_reads_in_loops_cursors_and_select_into_is_a_use() {
        for body in [
            "FOR r IN SELECT id FROM public.later LOOP NULL; END LOOP;",
            "SELECT count(*) INTO n FROM public.later;",
            "OPEN c FOR SELECT * FROM public.later;",
            "PERFORM 1 FROM public.later;",
        ] {
            let report = run(&[
                (
                    "1_uses.sql",
                    &format!("DO $$ DECLARE r record; n int; c refcursor; BEGIN {body} END $$;"),
                ),
                ("2_creates.sql", "CREATE TABLE public.later (id int);"),
            ]);
            assert_eq!(rules(&report), [("use-before-create", 0)], "{body}");
        }
    }

    #[test]
    fn external_objects_are_assumed_and_unattached_trigger_functions_found() {
        let report = run(&[("1_baseline.sql", FUNCTION)]);
        assert_eq!(rules(&report), [("unattached-trigger-function", 0)]);
        let report = run(&[("1_t.sql", "CREATE TRIGGER t AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION extensions.f();")]);
        assert!(report.findings.is_empty());
    }

    #[test]
    fn dropping_a_function_a_trigger_still_executes() {
        let report = run(&[
            ("1_baseline.sql", FUNCTION),
            ("2_trigger.sql", TRIGGER),
            ("3_replace.sql", "DROP FUNCTION public.handle_new_user();\nCREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;"),
        ]);
        assert_eq!(rules(&report), [("drop-function", 2)]);
    }

    #[test]
    fn do_blocks_create_what_they_create() {
        let report = run(&[
            ("1_view.sql", "CREATE VIEW v AS SELECT * FROM t;"),
            ("2_do.sql", "DO $$ BEGIN CREATE TABLE t (id int); END $$;"),
        ]);
        assert_eq!(rules(&report), [("use-before-create", 0)]);
    }
}
