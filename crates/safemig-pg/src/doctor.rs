//! `safemig doctor`: health checks on a live Supabase (or plain PostgreSQL)
//! database. Each finding has a stable kebab-case `check` name, a severity, the
//! object it is about, a message and the fix as SQL.
//!
//! Everything here reads the catalog, except the new-user test: one `INSERT` into
//! `auth.users`, as the Supabase auth server (GoTrue) does it, in a transaction that
//! is always rolled back, under short statement and lock timeouts. It is what users
//! see as "Database error saving new user" when a trigger on `auth.users` fails.

use postgres::error::SqlState;
use postgres::{Client, GenericClient};
use safemig_analyze::project::is_new_user_handler;
use safemig_project::MigrationSet;
use serde::Serialize;

use crate::catalog::UNPROTECTED_SCHEMAS;
use crate::status::{self, State};
use crate::{redact, PgError};

/// Longest the test insert (with its triggers) may run, and wait for a lock.
pub const INSERT_STATEMENT_TIMEOUT: &str = "5s";
pub const INSERT_LOCK_TIMEOUT: &str = "3s";

/// Schemas doctor leaves out of its function and trigger checks: PostgreSQL's own,
/// and the ones Supabase manages (the guards' list, the one place they are named).
pub fn skipped_schemas() -> Vec<String> {
    ["pg_catalog", "information_schema", "pg_toast"]
        .iter()
        .chain(UNPROTECTED_SCHEMAS)
        .map(|s| s.to_string())
        .collect()
}

/// SQL condition: namespace `n` is a user schema (`$1` = [`skipped_schemas`]).
const USER_SCHEMA: &str = "n.nspname <> ALL($1::text[]) AND n.nspname NOT LIKE 'pg\\_%'";

/// The oid of `auth.users`, looked up without a name lookup (`'auth.users'::regclass`
/// needs USAGE on schema auth, which a read-only role may not have).
const AUTH_USERS: &str =
    "(SELECT c.oid FROM pg_class c JOIN pg_namespace an ON an.oid = c.relnamespace \
     WHERE an.nspname = 'auth' AND c.relname = 'users' AND c.relkind IN ('r', 'p'))";

/// SQL condition: function `p` does not belong to an extension.
const NOT_EXTENSION_FUNCTION: &str = "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')";

mod lints;

pub use lints::{Category, Level};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// splinter's INFO: worth knowing, not a failure.
    Hint,
    /// splinter's WARN.
    Review,
    /// splinter's ERROR.
    Risky,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Hint => "hint",
            Severity::Review => "review",
            Severity::Risky => "risky",
        }
    }

    /// The same, in splinter's words.
    pub fn level(self) -> Level {
        match self {
            Severity::Hint => Level::Info,
            Severity::Review => Level::Warn,
            Severity::Risky => Level::Error,
        }
    }

    fn of(level: Level) -> Severity {
        match level {
            Level::Info => Severity::Hint,
            Level::Warn => Severity::Review,
            Level::Error => Severity::Risky,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable kebab-case name, e.g. `table-without-rls`.
    pub check: &'static str,
    pub severity: Severity,
    pub category: Category,
    /// The lint of Supabase's database linter (splinter) this answers to, e.g.
    /// `0013_rls_disabled_in_public`.
    pub splinter: Option<&'static str>,
    /// The object, e.g. `public.notes` or `trigger on_auth_user_created on auth.users`.
    pub object: String,
    pub message: String,
    /// The fix, as SQL (comments explain what the SQL cannot decide).
    pub fix: String,
}

/// What the new-user insert test did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InsertTest {
    /// Turned off (`--no-insert-test`).
    Skipped,
    /// No `auth.users`, or no enabled trigger on it fires on INSERT.
    NotApplicable,
    Passed,
    Failed,
    /// A timeout: neither passed nor failed.
    Inconclusive,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Facts worth a line that are not problems (no history table, what was tested).
    pub notes: Vec<String>,
    pub insert_test: InsertTest,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Schemas whose tables the API exposes (`[check] exposed_schemas`).
    pub exposed_schemas: Vec<String>,
    /// Run the rolled-back test insert into `auth.users`.
    pub insert_test: bool,
}

/// Runs every check. `migrations`: the project's migrations folder, when there is one.
pub fn run(
    client: &mut Client,
    migrations: Option<&MigrationSet>,
    options: &Options,
) -> Result<Report, PgError> {
    // Catalog reads are quick; never let doctor hang on a busy database.
    client
        .batch_execute("SET statement_timeout = '30s'; SET lock_timeout = '3s'")
        .map_err(|e| PgError::sql("setting doctor's timeouts", &e))?;
    let mut report = Report {
        findings: Vec::new(),
        notes: Vec::new(),
        insert_test: InsertTest::Skipped,
    };
    let skipped = skipped_schemas();
    let auth_users: bool = client
        .query_one(&format!("SELECT {AUTH_USERS} IS NOT NULL"), &[])
        .map_err(|e| PgError::sql("reading the catalog", &e))?
        .get(0);
    unattached_trigger_functions(client, &skipped, auth_users, &mut report)?;
    security_definer_without_search_path(client, &skipped, &mut report)?;
    tables_without_rls(client, &options.exposed_schemas, &mut report)?;
    disabled_triggers(client, &skipped, &mut report)?;
    if !auth_users {
        report.insert_test = InsertTest::NotApplicable;
        report
            .notes
            .push("no table auth.users: the new-user checks do not apply".into());
    } else if options.insert_test {
        new_user_insert(client, &mut report)?;
    } else {
        report.notes.push(
            "the test insert into auth.users was skipped (--no-insert-test): new-user-insert-fails was not checked"
                .into(),
        );
    }
    migration_history(client, migrations, &mut report)?;
    let scope = lints::scope(client, &options.exposed_schemas, skipped)?;
    for lint in lints::ALL {
        // A lint the connection's role may not run (no USAGE on storage, say) is
        // said in a note; the others still run.
        let hits = match (lint.find)(client, &scope) {
            Ok(hits) => hits,
            Err(e) => {
                report
                    .notes
                    .push(format!("{} was not checked: {e}", lint.name));
                continue;
            }
        };
        for hit in hits {
            report.findings.push(Finding {
                check: lint.name,
                severity: Severity::of(lint.level),
                category: lint.category,
                splinter: Some(lint.splinter),
                object: hit.object,
                message: hit.message,
                fix: hit.fix,
            });
        }
    }
    // Leave the session as doctor found it.
    let _ = client.batch_execute("RESET statement_timeout; RESET lock_timeout");
    Ok(report)
}

fn query(
    client: &mut impl GenericClient,
    what: &str,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<postgres::Row>, PgError> {
    client
        .query(sql, params)
        .map_err(|e| PgError::sql(what, &e))
}

fn unattached_trigger_functions(
    client: &mut Client,
    skipped: &[String],
    auth_users: bool,
    report: &mut Report,
) -> Result<(), PgError> {
    let sql = format!(
        "SELECT format('%I.%I', n.nspname, p.proname), p.proname::text \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.prorettype = 'trigger'::regtype AND {USER_SCHEMA} AND {NOT_EXTENSION_FUNCTION} \
           AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid) \
         ORDER BY 1"
    );
    let rows = query(client, "reading the trigger functions", &sql, &[&skipped])?;
    let taken: Vec<String> = if auth_users {
        query(
            client,
            "reading the triggers on auth.users",
            &format!("SELECT tgname::text FROM pg_trigger WHERE tgrelid = {AUTH_USERS}"),
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect()
    } else {
        Vec::new()
    };
    for row in rows {
        let (function, name): (String, String) = (row.get(0), row.get(1));
        let new_user = auth_users && is_new_user_handler(&name);
        let (severity, message, fix) = if new_user {
            let mut trigger = "on_auth_user_created".to_string();
            if taken.contains(&trigger) {
                trigger = format!("on_auth_user_created_{name}");
            }
            (
                Severity::Risky,
                format!(
                    "trigger function {function}() is not executed by any trigger: new sign-ups in auth.users \
                     get no row from it (it looks like a handler of new users)"
                ),
                format!(
                    "CREATE TRIGGER {} AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION {function}();",
                    crate::quote_if_needed(&trigger)
                ),
            )
        } else {
            (
                Severity::Review,
                format!("trigger function {function}() is not executed by any trigger"),
                format!(
                    "-- attach it to the table whose rows it handles (replace public.table_name and the events):\n\
                     CREATE TRIGGER {} AFTER INSERT OR UPDATE ON public.table_name FOR EACH ROW EXECUTE FUNCTION {function}();\n\
                     -- or, if nothing needs it any more:\n\
                     -- DROP FUNCTION {function}();",
                    crate::quote_if_needed(&format!("{name}_trigger"))
                ),
            )
        };
        report.findings.push(Finding {
            check: "unattached-trigger-function",
            category: Category::Health,
            splinter: None,
            severity,
            object: format!("{function}()"),
            message,
            fix,
        });
    }
    Ok(())
}

fn security_definer_without_search_path(
    client: &mut Client,
    skipped: &[String],
    report: &mut Report,
) -> Result<(), PgError> {
    let sql = format!(
        "SELECT format('%I.%I', n.nspname, p.proname), pg_get_function_identity_arguments(p.oid), p.prokind::text \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.prosecdef AND {USER_SCHEMA} AND {NOT_EXTENSION_FUNCTION} \
           AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{{}}'::text[])) c WHERE c LIKE 'search\\_path=%') \
         ORDER BY 1, 2"
    );
    for row in query(
        client,
        "reading the security definer functions",
        &sql,
        &[&skipped],
    )? {
        let (function, args, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let (word, keyword) = if kind == "p" {
            ("procedure", "PROCEDURE")
        } else {
            ("function", "FUNCTION")
        };
        report.findings.push(Finding {
            check: "security-definer-without-search-path",
            category: Category::Security,
            splinter: Some("0011_function_search_path_mutable"),
            severity: Severity::Review,
            object: format!("{function}({args})"),
            message: format!(
                "security definer {word} {function}({args}) has no search_path: it runs with its owner's rights \
                 and resolves names through the caller's search_path, which a caller can point at its own objects"
            ),
            fix: format!(
                "ALTER {keyword} {function}({args}) SET search_path = '';\n\
                 -- then every name in its body must be schema-qualified (public.users, not users)"
            ),
        });
    }
    Ok(())
}

fn tables_without_rls(
    client: &mut Client,
    exposed: &[String],
    report: &mut Report,
) -> Result<(), PgError> {
    if exposed.is_empty() {
        return Ok(());
    }
    let rows = query(
        client,
        "reading the tables' row level security",
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND NOT c.relrowsecurity AND n.nspname = ANY($1::text[]) \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') \
         ORDER BY 1",
        &[&exposed],
    )?;
    for row in rows {
        let table: String = row.get(0);
        report.findings.push(Finding {
            check: "table-without-rls",
            category: Category::Security,
            splinter: Some("0013_rls_disabled_in_public"),
            severity: Severity::Risky,
            object: table.clone(),
            message: format!(
                "table {table} is in an exposed schema ({}) without row level security: anyone with the anon key can \
                 read and change every row through the API",
                exposed.join(", ")
            ),
            fix: format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
                 -- with RLS on and no policy, anon and authenticated see no rows: add the policies the app needs, e.g.\n\
                 -- CREATE POLICY \"own rows\" ON {table} FOR SELECT TO authenticated USING (user_id = auth.uid());"
            ),
        });
    }
    Ok(())
}

fn disabled_triggers(
    client: &mut Client,
    skipped: &[String],
    report: &mut Report,
) -> Result<(), PgError> {
    let sql = format!(
        "SELECT format('%I.%I', n.nspname, c.relname), t.tgname::text, quote_ident(t.tgname), \
                format('%I.%I', fn.nspname, p.proname) \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace fn ON fn.oid = p.pronamespace \
         WHERE NOT t.tgisinternal AND t.tgenabled = 'D' \
           AND (c.oid = {AUTH_USERS} OR ({USER_SCHEMA})) \
         ORDER BY 1, 2"
    );
    for row in query(client, "reading the disabled triggers", &sql, &[&skipped])? {
        let (table, name, quoted, function): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let consequence = if table == "auth.users" {
            ": new sign-ups do not run it"
        } else {
            ""
        };
        report.findings.push(Finding {
            check: "disabled-trigger",
            category: Category::Health,
            splinter: None,
            severity: Severity::Review,
            object: format!("trigger {name} on {table}"),
            message: format!(
                "trigger {name} on {table} (function {function}()) is disabled{consequence}"
            ),
            fix: format!("ALTER TABLE {table} ENABLE TRIGGER {quoted};"),
        });
    }
    Ok(())
}

/// The new-user insert test alone (what `doctor` runs, rolled back): `None` when
/// there is no `auth.users` or no trigger on it to test, else the failure (as
/// doctor would report it) if the insert fails. Used on rehearsal copies, where
/// the pending migrations just ran.
pub fn signup_test(client: &mut Client) -> Result<Option<Result<(), Finding>>, PgError> {
    let exists: bool = client
        .query_one(&format!("SELECT {AUTH_USERS} IS NOT NULL"), &[])
        .map_err(|e| PgError::sql("reading the catalog", &e))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let mut report = Report {
        findings: Vec::new(),
        notes: Vec::new(),
        insert_test: InsertTest::Skipped,
    };
    new_user_insert(client, &mut report)?;
    Ok(match report.insert_test {
        InsertTest::Passed => Some(Ok(())),
        InsertTest::Failed => report.findings.into_iter().next().map(Err),
        _ => None,
    })
}

/// One enabled trigger on `auth.users` that fires on INSERT.
struct UserTrigger {
    name: String,
    function: String,
    function_name: String,
    /// SECURITY DEFINER with a fixed search_path already.
    definer_with_path: bool,
}

fn new_user_insert(client: &mut Client, report: &mut Report) -> Result<(), PgError> {
    // tgtype bit 2 (4) = INSERT; 'O' and 'A' fire in normal sessions ('R' only on replicas).
    let triggers: Vec<UserTrigger> = query(
        client,
        "reading the triggers on auth.users",
        &format!("SELECT t.tgname::text, format('%I.%I', n.nspname, p.proname), p.proname::text, \
                p.prosecdef AND EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\\_path=%') \
         FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE t.tgrelid = {AUTH_USERS} AND NOT t.tgisinternal AND t.tgenabled IN ('O', 'A') \
           AND (t.tgtype & 4) <> 0 \
         ORDER BY 1"),
        &[],
    )?
    .iter()
    .map(|r| UserTrigger {
        name: r.get(0),
        function: r.get(1),
        function_name: r.get(2),
        definer_with_path: r.get(3),
    })
    .collect();
    if triggers.is_empty() {
        report.insert_test = InsertTest::NotApplicable;
        report.notes.push(
            "no enabled trigger on auth.users fires on INSERT: the test insert was not needed"
                .into(),
        );
        return Ok(());
    }
    // A read replica or a read-only connection cannot take the insert: that says
    // nothing about sign-ups.
    let read_only: bool = client
        .query_one(
            "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'",
            &[],
        )
        .map_err(|e| PgError::sql("reading whether the connection may write", &e))?
        .get(0);
    if read_only {
        report.insert_test = InsertTest::Inconclusive;
        report.notes.push(
            "this connection is read-only (a replica, or default_transaction_read_only): the test insert into \
             auth.users could not run; connect to the primary to check new-user-insert-fails"
                .into(),
        );
        return Ok(());
    }
    let insert = build_insert(client)?;
    // As GoTrue: role supabase_auth_admin, with that role's own search_path (role
    // settings apply at login, not on SET ROLE, so it is set here).
    let role = query(
        client,
        "reading the roles",
        "SELECT r.oid IS NOT NULL, \
                r.oid IS NOT NULL AND pg_has_role(current_user, r.oid, 'MEMBER'), \
                (SELECT substr(c, length('search_path=') + 1) FROM pg_db_role_setting s, unnest(s.setconfig) c \
                  WHERE s.setrole = r.oid AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database())) \
                    AND c LIKE 'search\\_path=%' ORDER BY s.setdatabase DESC LIMIT 1) \
         FROM (SELECT (SELECT oid FROM pg_roles WHERE rolname = 'supabase_auth_admin') AS oid) r",
        &[],
    )?;
    let (role_exists, role_member, role_search_path): (bool, bool, Option<String>) =
        (role[0].get(0), role[0].get(1), role[0].get(2));
    let me: String = client
        .query_one("SELECT current_user::text", &[])
        .map_err(|e| PgError::sql("reading the current role", &e))?
        .get(0);
    let mut as_whom = format!("role {me}, the connecting role");
    let mut tx = client
        .transaction()
        .map_err(|e| PgError::sql("starting the test insert's transaction", &e))?;
    let setup = format!(
        "SET LOCAL statement_timeout = '{INSERT_STATEMENT_TIMEOUT}'; SET LOCAL lock_timeout = '{INSERT_LOCK_TIMEOUT}'; \
         SET CONSTRAINTS ALL IMMEDIATE"
    );
    tx.batch_execute(&setup)
        .map_err(|e| PgError::sql("preparing the test insert", &e))?;
    if role_member {
        tx.batch_execute("SET LOCAL ROLE supabase_auth_admin")
            .map_err(|e| PgError::sql("SET LOCAL ROLE supabase_auth_admin", &e))?;
        as_whom = "role supabase_auth_admin, as GoTrue".into();
        if let Some(path) = &role_search_path {
            tx.execute("SELECT set_config('search_path', $1, true)", &[path])
                .map_err(|e| PgError::sql("setting supabase_auth_admin's search_path", &e))?;
            as_whom.push_str(&format!(" (search_path {path})"));
        }
    } else if role_exists {
        report.notes.push(
            "role supabase_auth_admin exists but the connecting role cannot SET ROLE to it: the test insert ran as the \
             connecting role, so permission problems GoTrue would meet may not show"
                .into(),
        );
    }
    let result = tx.execute(insert.as_str(), &[]);
    // Always rolled back, whatever happened.
    let rollback = tx.rollback();
    let names: Vec<String> = triggers
        .iter()
        .map(|t| format!("{} ({}())", t.name, t.function))
        .collect();
    match result {
        Ok(_) => {
            rollback.map_err(|e| PgError::sql("rolling back the test insert", &e))?;
            report.insert_test = InsertTest::Passed;
            report.notes.push(format!(
                "a test insert into auth.users as {as_whom} ran trigger(s) {} without error (rolled back)",
                names.join(", ")
            ));
        }
        Err(e) => {
            let code = e.code().cloned();
            if code == Some(SqlState::QUERY_CANCELED) || code == Some(SqlState::LOCK_NOT_AVAILABLE)
            {
                report.insert_test = InsertTest::Inconclusive;
                report.notes.push(redact::redact(&format!(
                    "the test insert into auth.users did not finish within {INSERT_STATEMENT_TIMEOUT} (or waited \
                     {INSERT_LOCK_TIMEOUT} for a lock) and was rolled back: new-user-insert-fails is inconclusive; \
                     run doctor again when the database is quieter ({})",
                    crate::describe_db_error(&e)
                )));
                return Ok(());
            }
            let Some(db) = e.as_db_error() else {
                // Not PostgreSQL's answer: the connection itself failed.
                return Err(PgError::sql("the test insert into auth.users", &e));
            };
            if !role_member
                && code == Some(SqlState::INSUFFICIENT_PRIVILEGE)
                && db.where_().is_none()
            {
                // The connecting role may not insert into auth.users at all: that says
                // nothing about sign-ups, which GoTrue makes as its own role.
                report.insert_test = InsertTest::Inconclusive;
                report.notes.push(redact::redact(&format!(
                    "the test insert into auth.users could not run as {as_whom}: {}; connect as a role that may \
                     insert into auth.users (or SET ROLE supabase_auth_admin) to check new-user-insert-fails",
                    db.message()
                )));
                return Ok(());
            }
            if db.where_().is_none() {
                // Not raised inside a trigger: the insert itself failed (doctor's made-up
                // row breaks a CHECK of auth.users, say). Nothing learned about the triggers.
                report.insert_test = InsertTest::Inconclusive;
                report.notes.push(redact::redact(&format!(
                    "the test insert into auth.users failed before any trigger ran, as {as_whom}: {}; this is about \
                     doctor's test row, not sign-ups: new-user-insert-fails is inconclusive",
                    db.message()
                )));
                return Ok(());
            }
            report.insert_test = InsertTest::Failed;
            let culprit = culprit(&triggers, db.where_());
            let mut error = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                error.push_str(&format!("\n  detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                error.push_str(&format!("\n  hint: {hint}"));
            }
            if let Some(context) = db.where_() {
                error.push_str(&format!(
                    "\n  context: {}",
                    context.replace('\n', "\n           ")
                ));
            }
            let (object, message, trigger) = match culprit {
                Some(t) => (
                    format!("trigger {} on auth.users", t.name),
                    format!(
                        "inserting a user into auth.users (as {as_whom}) fails in trigger {} (function {}()): \
                         sign-ups get \"Database error saving new user\". PostgreSQL says:\n{error}",
                        t.name, t.function
                    ),
                    Some(t),
                ),
                None => (
                    "auth.users".to_string(),
                    format!(
                        "inserting a user into auth.users (as {as_whom}) fails (triggers: {}): sign-ups get \
                         \"Database error saving new user\". PostgreSQL says:\n{error}",
                        names.join(", ")
                    ),
                    None,
                ),
            };
            report.findings.push(Finding {
                check: "new-user-insert-fails",
                category: Category::Health,
                splinter: None,
                severity: Severity::Risky,
                object,
                message: redact::redact(&message),
                fix: insert_fix(code.as_ref(), db.column(), trigger),
            });
        }
    }
    Ok(())
}

/// The trigger whose function the error's context names (the outermost one: the
/// context lists the innermost call first).
fn culprit<'a>(triggers: &'a [UserTrigger], context: Option<&str>) -> Option<&'a UserTrigger> {
    let context = context?;
    for line in context.lines().rev() {
        if let Some(t) = triggers.iter().find(|t| {
            line.contains(&format!("function {}(", t.function_name))
                || line.contains(&format!("function {}(", t.function))
        }) {
            return Some(t);
        }
    }
    if triggers.len() == 1 {
        return triggers.first();
    }
    None
}

fn insert_fix(
    code: Option<&SqlState>,
    column: Option<&str>,
    trigger: Option<&UserTrigger>,
) -> String {
    let shown = trigger.map_or("the trigger function", |t| t.function.as_str());
    let mut fix = String::new();
    let cause = match code {
        Some(c) if *c == SqlState::UNDEFINED_COLUMN => {
            format!("{shown} names a column that does not exist: correct its INSERT (or add the column)")
        }
        Some(c) if *c == SqlState::NOT_NULL_VIOLATION => format!(
            "{shown} leaves out a NOT NULL column{} that has no default: give it a value in the INSERT, or a default",
            column.map(|c| format!(" ({c})")).unwrap_or_default()
        ),
        Some(c) if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::UNDEFINED_FUNCTION => format!(
            "{shown} names a table or function that does not exist, or does not schema-qualify it (GoTrue's \
             search_path is auth): write public.users, not users"
        ),
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => format!(
            "GoTrue's role (supabase_auth_admin) may not do what {shown} does: make the function SECURITY DEFINER \
             with a fixed search_path"
        ),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => format!(
            "{shown} inserts a row that already exists: use ON CONFLICT DO NOTHING (or DO UPDATE)"
        ),
        _ => format!("{shown} raises this error on every sign-up: correct it"),
    };
    fix.push_str(&format!("-- {cause}.\n"));
    fix.push_str(
        "-- Likely causes: a column it inserts into does not exist; a NOT NULL column it leaves out has no default;\n\
         -- permissions (GoTrue inserts as supabase_auth_admin: the function should be SECURITY DEFINER with\n\
         -- SET search_path = '' and schema-qualified names).\n",
    );
    if let Some(t) = trigger {
        let function = &t.function;
        fix.push_str(&format!(
            "SELECT pg_get_functiondef('{function}()'::regprocedure);  -- read it, then CREATE OR REPLACE it corrected\n"
        ));
        if !t.definer_with_path {
            fix.push_str(&format!(
                "ALTER FUNCTION {function}() SECURITY DEFINER SET search_path = '';  -- and qualify every name in its body\n"
            ));
        }
    }
    fix.trim_end().to_string()
}

/// `INSERT INTO auth.users (...) VALUES (...)` with what GoTrue sets on sign-up and
/// a value for every other NOT NULL column without a default.
fn build_insert(client: &mut Client) -> Result<String, PgError> {
    let rows = query(
        client,
        "reading the columns of auth.users",
        &format!("SELECT a.attname::text, quote_ident(a.attname), a.attnotnull, a.atthasdef, \
                a.attgenerated::text <> '' OR a.attidentity::text = 'a', \
                bt.typname::text, bt.typtype::text, bt.typcategory::text, \
                (SELECT quote_literal(e.enumlabel) FROM pg_enum e WHERE e.enumtypid = bt.oid ORDER BY e.enumsortorder LIMIT 1) \
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
         JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
         WHERE a.attrelid = {AUTH_USERS} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"),
        &[],
    )?;
    let email = "'safemig-doctor-' || substr(md5(random()::text || clock_timestamp()::text), 1, 12) || '@example.invalid'";
    let mut columns = Vec::new();
    let mut values = Vec::new();
    for r in rows {
        let (name, quoted, not_null, has_default, generated): (String, String, bool, bool, bool) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        if generated {
            continue;
        }
        let (typname, typtype, category, first_label): (String, String, String, Option<String>) =
            (r.get(5), r.get(6), r.get(7), r.get(8));
        // What GoTrue writes on an email sign-up.
        let gotrue = match name.as_str() {
            "id" => Some("gen_random_uuid()".to_string()),
            "instance_id" => Some("'00000000-0000-0000-0000-000000000000'".into()),
            "aud" | "role" => Some("'authenticated'".into()),
            "email" => Some(email.to_string()),
            "encrypted_password" => Some("''".into()),
            "raw_app_meta_data" => {
                Some(r#"'{"provider": "email", "providers": ["email"]}'"#.into())
            }
            "raw_user_meta_data" => Some("'{}'".into()),
            "created_at" | "updated_at" => Some("now()".into()),
            _ => None,
        };
        let value = match gotrue {
            Some(v) => v,
            None if not_null && !has_default => {
                match (typtype.as_str(), category.as_str(), typname.as_str()) {
                    ("e", _, _) => first_label.unwrap_or_else(|| "NULL".into()),
                    (_, _, "uuid") => "gen_random_uuid()".into(),
                    (_, _, "json" | "jsonb") => "'{}'".into(),
                    (_, "S", _) => "'safemig-doctor'".into(),
                    (_, "N", _) => "0".into(),
                    (_, "B", _) => "false".into(),
                    (_, "D", _) => "now()".into(),
                    (_, "A", _) => "'{}'".into(),
                    // No generic value: PostgreSQL will say so, naming the column.
                    _ => "NULL".into(),
                }
            }
            None => continue,
        };
        columns.push(quoted);
        values.push(value);
    }
    Ok(format!(
        "INSERT INTO auth.users ({}) VALUES ({})",
        columns.join(", "),
        values.join(", ")
    ))
}

fn migration_history(
    client: &mut Client,
    migrations: Option<&MigrationSet>,
    report: &mut Report,
) -> Result<(), PgError> {
    let exists = crate::history::relation_exists(client, "supabase_migrations.schema_migrations")?;
    let Some(set) = migrations else {
        report
            .notes
            .push("no migrations folder: the migration history was not compared with files".into());
        return Ok(());
    };
    if !exists {
        report.notes.push(format!(
            "no migration history (supabase_migrations.schema_migrations does not exist): no migration was applied \
             with the Supabase CLI or safemig; {} file(s) in {}",
            set.migrations.len(),
            set.dir.display()
        ));
        return Ok(());
    }
    let history = crate::history::read(client)?;
    for s in status::compute(set, &history) {
        let label = if s.name.is_empty() {
            s.version.clone()
        } else {
            format!("{}_{}", s.version, s.name)
        };
        match s.state {
            State::MissingFile => report.findings.push(Finding {
                check: "missing-migration-file",
            category: Category::Health,
            splinter: None,
                severity: Severity::Risky,
                object: format!("migration {}", s.version),
                message: format!(
                    "migration {label} is in supabase_migrations.schema_migrations but has no file in {}: \
                     `safemig migrate` and `supabase db push` refuse to run",
                    set.dir.display()
                ),
                fix: format!(
                    "-- restore the file from version control (or `supabase migration fetch`); only if it was never \
                     really applied, remove its row (as `supabase migration repair --status reverted {v}` does):\n\
                     DELETE FROM supabase_migrations.schema_migrations WHERE version = {};",
                    crate::quote_literal(&s.version),
                    // In a comment: no line break may end it early.
                    v = s.version.replace(|c: char| c.is_control(), " ")
                ),
            }),
            State::Pending | State::OutOfOrder => {
                let file = s
                    .file
                    .as_ref()
                    .map(|f| f.display().to_string())
                    .unwrap_or_else(|| label.clone());
                let order = if s.state == State::OutOfOrder {
                    " and is older than the newest applied migration (`safemig migrate --include-all`)"
                } else {
                    ""
                };
                report.findings.push(Finding {
                    check: "pending-migration",
            category: Category::Health,
            splinter: None,
                    severity: Severity::Review,
                    object: format!("migration {}", s.version),
                    message: format!(
                        "migration file {file} has no row in supabase_migrations.schema_migrations: it was not \
                         applied to this database{order}"
                    ),
                    fix: format!(
                        "-- apply it (checked, backed up and guarded): safemig migrate\n\
                         -- or, if its changes are already in the database, record it as applied:\n\
                         -- INSERT INTO supabase_migrations.schema_migrations (version, name) VALUES ({}, {});",
                        crate::quote_literal(&s.version),
                        crate::quote_literal(&s.name)
                    ),
                });
            }
            State::Applied | State::Changed => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_user_handlers_are_recognised() {
        assert!(is_new_user_handler("handle_new_user"));
        assert!(is_new_user_handler("on_auth_user_created"));
        assert!(!is_new_user_handler("set_updated_at"));
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(
            crate::quote_if_needed("on_auth_user_created"),
            "on_auth_user_created"
        );
        assert_eq!(crate::quote_if_needed("Trigger"), "\"Trigger\"");
        assert_eq!(crate::quote_if_needed("1x"), "\"1x\"");
    }

    #[test]
    fn skipped_schemas_hold_supabase_and_postgres_schemas() {
        let s = skipped_schemas();
        for name in [
            "pg_catalog",
            "auth",
            "storage",
            "safemig",
            "supabase_migrations",
            "_analytics",
        ] {
            assert!(s.iter().any(|x| x == name), "{name}");
        }
        assert!(!s.iter().any(|x| x == "public"));
    }

    #[test]
    fn the_fix_for_a_missing_column_names_the_cause_and_the_function() {
        let mut trigger = UserTrigger {
            name: "on_auth_user_created".into(),
            function: "public.handle_new_user".into(),
            function_name: "handle_new_user".into(),
            definer_with_path: false,
        };
        let fix = insert_fix(Some(&SqlState::UNDEFINED_COLUMN), None, Some(&trigger));
        assert!(
            fix.contains("public.handle_new_user names a column that does not exist"),
            "{fix}"
        );
        assert!(
            fix.contains("ALTER FUNCTION public.handle_new_user() SECURITY DEFINER"),
            "{fix}"
        );
        trigger.definer_with_path = true;
        let fix = insert_fix(Some(&SqlState::UNDEFINED_COLUMN), None, Some(&trigger));
        assert!(
            !fix.contains("ALTER FUNCTION"),
            "already security definer: {fix}"
        );
    }
}
