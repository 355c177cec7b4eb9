//! The rules of `safemig check`, one file each.
//!
//! A rule looks at one statement at a time (a top-level statement of a migration,
//! or a statement inside a `DO` block or PL/pgSQL function body) and says what is
//! wrong with it. Everything a rule needs about the rest of the file is in
//! [`FileFacts`]; rules never do I/O.
//!
//! Adding a rule: a new file with a `pub struct` implementing [`Rule`], its
//! [`RuleDoc`] ("what it does / why it matters / example / use instead"), and
//! tests (positive, negative, guarded, inside a `DO` block); then one line in
//! [`all`]. The name is a stable kebab-case identifier: scripts match on it.

use std::collections::BTreeSet;

use pg_query::protobuf::{self, RangeVar};
use pg_query::NodeEnum;
use serde::{Deserialize, Serialize};

use crate::parse::QualifiedName;

pub(crate) mod add_column_volatile_default;
mod add_foreign_key;
mod add_required_column;
mod add_unique_constraint;
mod alter_domain_add_constraint;
mod always_true_function;
mod ban_char_type;
mod change_column_type;
mod cluster;
mod concurrently_in_transaction;
mod constraint_without_not_valid;
mod create_domain_with_constraint;
mod definer_exposed;
mod delete_rows;
mod delete_without_where;
mod disable_rls;
mod drop_cascade;
mod drop_column;
mod drop_data_objects;
mod drop_database;
mod drop_function;
mod drop_index_without_concurrently;
mod drop_not_null;
mod drop_policy;
mod drop_schema;
mod drop_table;
mod drop_trigger;
mod drop_type_cascade;
mod enum_value_position;
mod grant_to_anon;
mod identifier_too_long;
mod index_without_concurrently;
mod lossy_type_change;
mod merge_or_upsert_overwrites;
mod missing_lock_timeout;
pub(crate) mod not_known_safe;
mod open_policy;
mod prefer_bigint;
mod prefer_identity;
mod prefer_text;
mod prefer_timestamptz;
mod reaches_outside;
mod rename_column;
mod rename_table;
mod role_escalation;
mod security_definer_without_search_path;
mod sequence_reset;
mod set_not_null;
mod set_unlogged;
mod table_without_rls;
mod truncate;
mod uncommitted_transaction;
mod unguarded_create;
mod unguarded_drop;
mod update_overwrites_values;
mod update_without_where;
mod vacuum_full;
mod view_bypasses_rls;
mod view_exposes_auth_users;
mod writes_discarded;

/// How much a finding matters. A migration's class is its worst finding's:
/// `risky` (can lose data or break the application), `review` (locks, rewrites,
/// things a person should look at), `hint` (style and robustness; the migration
/// stays `safe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Hint,
    Review,
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

    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "hint" => Some(Severity::Hint),
            "review" => Some(Severity::Review),
            "risky" => Some(Severity::Risky),
            _ => None,
        }
    }
}

/// A rule's documentation, in the style of ruff's rule pages.
#[derive(Debug, Clone, Copy)]
pub struct RuleDoc {
    /// Stable kebab-case name.
    pub name: &'static str,
    pub severity: Severity,
    /// One line.
    pub summary: &'static str,
    pub what_it_does: &'static str,
    pub why_it_matters: &'static str,
    pub example: &'static str,
    pub use_instead: &'static str,
}

/// What one rule found in one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub message: String,
    /// What to do about it, when more specific than the rule's docs.
    pub help: Option<String>,
}

impl Hit {
    pub fn new(message: impl Into<String>) -> Hit {
        Hit {
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Hit {
        self.help = Some(help.into());
        self
    }
}

pub trait Rule: Sync {
    fn doc(&self) -> &'static RuleDoc;
    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit>;
}

/// Where a statement sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A statement of the migration file itself.
    TopLevel,
    /// Inside a `DO` block.
    DoBlock,
    /// Inside a function or procedure body (runs when the function is called).
    FunctionBody,
}

/// One statement, with what the rules may want to know about its file.
pub struct Ctx<'a> {
    pub node: &'a NodeEnum,
    /// The statement's text.
    pub text: &'a str,
    /// 0-based index of the top-level statement (for embedded ones, of the statement holding them).
    pub index: usize,
    pub place: Place,
    /// Inside an `IF` that tests the catalog (`IF EXISTS (SELECT ... FROM pg_catalog ...)`).
    pub guarded_by_catalog_test: bool,
    pub file: &'a FileFacts,
}

/// Facts about a whole file, gathered before the rules run.
#[derive(Debug, Clone, Default)]
pub struct FileFacts {
    /// Tables created in this file (schema empty when unqualified): locks and
    /// rewrites on a table nobody can be using yet are harmless.
    pub created_tables: BTreeSet<QualifiedName>,
    /// Triggers created in this file: (table, trigger name). `DROP TRIGGER IF EXISTS`
    /// followed by `CREATE TRIGGER` of the same one is the idiom for replacing it.
    pub created_triggers: BTreeSet<(QualifiedName, String)>,
    /// Functions created in this file (by name, any arguments).
    pub created_functions: BTreeSet<QualifiedName>,
    /// Triggers this file drops with `DROP TRIGGER IF EXISTS`: a later `CREATE
    /// TRIGGER` of the same one is the drop-and-recreate idiom, idempotent.
    pub dropped_triggers: BTreeSet<(QualifiedName, String)>,
    /// Index of the first top-level `SET lock_timeout` (any scope), if any.
    pub first_lock_timeout: Option<usize>,
    /// The file opens its own transaction with `BEGIN` / `START TRANSACTION`.
    pub has_own_transaction: bool,
    /// Indexes of the file's top-level `COMMIT` / `END` statements.
    pub commits: Vec<usize>,
    /// Policies created in this file: (table, policy name).
    pub created_policies: BTreeSet<(QualifiedName, String)>,
    /// Columns added in this file (`ALTER TABLE ... ADD COLUMN`): (table, column).
    pub added_columns: BTreeSet<(QualifiedName, String)>,
    /// Tables that get `ENABLE ROW LEVEL SECURITY` somewhere in the file.
    pub rls_enabled: BTreeSet<QualifiedName>,
    /// Schemas the Supabase API exposes (default: `public`).
    pub exposed_schemas: Vec<String>,
    /// Sequences created in this file (`CREATE SEQUENCE`).
    pub created_sequences: BTreeSet<QualifiedName>,
    /// Functions whose `EXECUTE` this file revokes from `PUBLIC` (and from `anon`
    /// when it was granted): the API's anonymous callers can no longer run them.
    pub execute_revoked_from_anon: BTreeSet<QualifiedName>,
    /// Functions whose `EXECUTE` this file grants to `anon` or `PUBLIC`.
    pub execute_granted_to_anon: BTreeSet<QualifiedName>,
    /// How many statements PostgreSQL runs in the file, session settings and
    /// comment-only fragments left out.
    pub statement_count: usize,
    /// Functions created in this file, with the index of the statement creating them.
    pub functions_created_at: Vec<(QualifiedName, usize)>,
    /// Trigger functions created in this file whose body only ever returns NULL.
    pub null_returning_functions: BTreeSet<QualifiedName>,
    /// Constraints added `NOT VALID` in this file: (table, constraint name).
    pub not_valid_constraints: BTreeSet<(QualifiedName, String)>,
}

impl FileFacts {
    /// Whether a statement before `index` creates function `name`.
    pub fn created_functions_before(&self, index: usize, name: &QualifiedName) -> bool {
        self.functions_created_at.iter().any(|(f, at)| {
            *at < index && f.name == name.name && effective_schema(f) == effective_schema(name)
        })
    }

    /// Whether a sequence of this name is created in this file.
    pub fn creates_sequence(&self, name: &QualifiedName) -> bool {
        self.created_sequences
            .iter()
            .any(|t| t.name == name.name && effective_schema(t) == effective_schema(name))
    }

    /// Whether anon may execute function `name` after this file: `EXECUTE` is
    /// granted to `PUBLIC` by default, so unless the file revokes it.
    pub fn anon_may_execute(&self, name: &QualifiedName) -> bool {
        let same = |t: &QualifiedName| {
            t.name == name.name && effective_schema(t) == effective_schema(name)
        };
        self.execute_granted_to_anon.iter().any(same)
            || !self.execute_revoked_from_anon.iter().any(same)
    }

    pub fn created_here(&self, name: &QualifiedName) -> bool {
        self.created_tables.contains(name)
            || self.created_tables.iter().any(|t| {
                t.name == name.name && (t.schema.is_empty() || name.schema.is_empty()) && {
                    let (a, b) = (effective_schema(t), effective_schema(name));
                    a == b
                }
            })
    }

    /// Whether this file adds the column `column` to `table`.
    pub fn adds_column(&self, table: &QualifiedName, column: &str) -> bool {
        self.added_columns.iter().any(|(t, c)| {
            c == column && t.name == table.name && effective_schema(t) == effective_schema(table)
        })
    }

    /// Whether this file creates (or re-creates) the trigger `name` on `table`.
    pub fn creates_trigger(&self, table: &QualifiedName, name: &str) -> bool {
        self.created_triggers.iter().any(|(t, n)| {
            n == name && t.name == table.name && effective_schema(t) == effective_schema(table)
        })
    }

    /// Whether a `COMMIT` follows the top-level statement `index`.
    pub fn commits_after(&self, index: usize) -> bool {
        self.commits.iter().any(|&c| c > index)
    }

    /// Whether this file drops the trigger `name` on `table` with IF EXISTS.
    pub fn drops_trigger_if_exists(&self, table: &QualifiedName, name: &str) -> bool {
        self.dropped_triggers.iter().any(|(t, n)| {
            n == name && t.name == table.name && effective_schema(t) == effective_schema(table)
        })
    }

    /// Whether this file creates (or re-creates) a function called `name`.
    pub fn creates_function(&self, name: &QualifiedName) -> bool {
        self.created_functions
            .iter()
            .any(|f| f.name == name.name && effective_schema(f) == effective_schema(name))
    }

    pub fn is_exposed(&self, name: &QualifiedName) -> bool {
        let schema = effective_schema(name);
        self.exposed_schemas.iter().any(|s| s == schema)
    }
}

/// A trigger function whose body returns NULL and never NEW or OLD: it cancels
/// every row it runs BEFORE.
pub(crate) fn returns_only_null(f: &protobuf::CreateFunctionStmt) -> bool {
    let Some(body) = always_true_function::body(f) else {
        return false;
    };
    let text: String = body
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    text.contains("return null") && !text.contains("return new") && !text.contains("return old")
}

/// The roles a `GRANT`, `REVOKE` or `CREATE POLICY` names, lower case, with
/// `PUBLIC` (every role) as `public`.
pub(crate) fn role_names(roles: &[protobuf::Node]) -> Vec<String> {
    roles
        .iter()
        .filter_map(|r| match r.node.as_ref() {
            Some(NodeEnum::RoleSpec(spec))
                if spec.roletype == protobuf::RoleSpecType::RolespecPublic as i32 =>
            {
                Some("public".to_string())
            }
            Some(NodeEnum::RoleSpec(spec)) => Some(spec.rolename.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// Whether `roles` reaches the public anon key: `anon` itself, or `PUBLIC`.
pub(crate) fn reaches_anon(roles: &[protobuf::Node]) -> bool {
    role_names(roles)
        .iter()
        .any(|r| r == "anon" || r == "public")
}

/// The schema an unqualified name lands in under the default search_path.
pub fn effective_schema(name: &QualifiedName) -> &str {
    if name.schema.is_empty() {
        "public"
    } else {
        &name.schema
    }
}

/// Every rule, in the order `safemig rules` lists them.
pub fn all() -> &'static [&'static dyn Rule] {
    static ALL: &[&dyn Rule] = &[
        // Destructive.
        &drop_table::DropTable,
        &drop_column::DropColumn,
        &drop_schema::DropSchema,
        &drop_database::DropDatabase,
        &truncate::Truncate,
        &delete_without_where::DeleteWithoutWhere,
        &delete_rows::DeleteRows,
        &update_without_where::UpdateWithoutWhere,
        &update_overwrites_values::UpdateOverwritesValues,
        &lossy_type_change::LossyTypeChange,
        &set_unlogged::SetUnlogged,
        &reaches_outside::ReachesOutside,
        &drop_function::DropFunction,
        &drop_trigger::DropTrigger,
        &drop_type_cascade::DropTypeCascade,
        &drop_cascade::DropCascade,
        &drop_data_objects::DropDataObjects,
        &merge_or_upsert_overwrites::MergeOrUpsertOverwrites,
        &sequence_reset::SequenceReset,
        &writes_discarded::WritesDiscarded,
        // Rewrites and heavy locks.
        &index_without_concurrently::IndexWithoutConcurrently,
        &change_column_type::ChangeColumnType,
        &add_column_volatile_default::AddColumnVolatileDefault,
        &add_required_column::AddRequiredColumn,
        &set_not_null::SetNotNull,
        &drop_not_null::DropNotNull,
        &constraint_without_not_valid::ConstraintWithoutNotValid,
        &add_foreign_key::AddForeignKey,
        &add_unique_constraint::AddUniqueConstraint,
        &drop_index_without_concurrently::DropIndexWithoutConcurrently,
        &rename_table::RenameTable,
        &rename_column::RenameColumn,
        &vacuum_full::VacuumFull,
        &cluster::Cluster,
        &create_domain_with_constraint::CreateDomainWithConstraint,
        &alter_domain_add_constraint::AlterDomainAddConstraint,
        // Robustness.
        &unguarded_create::UnguardedCreate,
        &unguarded_drop::UnguardedDrop,
        &concurrently_in_transaction::ConcurrentlyInTransaction,
        &missing_lock_timeout::MissingLockTimeout,
        &uncommitted_transaction::UncommittedTransaction,
        &identifier_too_long::IdentifierTooLong,
        &enum_value_position::EnumValuePosition,
        // Supabase.
        &security_definer_without_search_path::SecurityDefinerWithoutSearchPath,
        &table_without_rls::TableWithoutRls,
        &disable_rls::DisableRls,
        &drop_policy::DropPolicy,
        &open_policy::OpenPolicy,
        &grant_to_anon::GrantToAnon,
        &view_exposes_auth_users::ViewExposesAuthUsers,
        &view_bypasses_rls::ViewBypassesRls,
        &definer_exposed::DefinerExposed,
        &always_true_function::AlwaysTrueFunction,
        &role_escalation::RoleEscalation,
        // Types.
        &prefer_bigint::PreferBigint,
        &prefer_identity::PreferIdentity,
        &prefer_text::PreferText,
        &prefer_timestamptz::PreferTimestamptz,
        &ban_char_type::BanCharType,
    ];
    ALL
}

/// Rules that are not checked per statement but across the file or the whole
/// migration set; listed by `safemig rules` and explained by `safemig explain`.
pub static CROSS_FILE: &[RuleDoc] = &[
    RuleDoc {
        name: "syntax-error",
        severity: Severity::Risky,
        summary: "PostgreSQL's parser rejects the file",
        what_it_does: "Parses every file with libpg_query, the PostgreSQL server's own grammar, and reports the first \
                       statement it rejects, with PostgreSQL's message and the line and column it points at.",
        why_it_matters: "A migration that does not parse fails when it runs; with the Supabase CLI, earlier files of \
                         the same push may already be applied.",
        example: "CREATE TABEL users (id int);",
        use_instead: "CREATE TABLE users (id int);",
    },
    RuleDoc {
        name: "psql-meta-command",
        severity: Severity::Risky,
        summary: "a psql meta-command (\\connect, \\restrict, \\set ...) or COPY FROM stdin data in a migration",
        what_it_does: "Finds lines that only psql understands: backslash meta-commands, and the inline data of \
                       `COPY ... FROM stdin`, as `pg_dump` writes them.",
        why_it_matters: "PostgreSQL cannot run them, and neither can a migration tool that talks to the server \
                         (the Supabase CLI fails on them). They are not syntax errors: the file is a psql script.",
        example: "\\connect postgres\nCOPY public.tracks (id, title) FROM stdin;\n1\tIntro\n\\.",
        use_instead: "Remove the meta-commands; turn inline COPY data into INSERT statements, or load it with psql \
                      outside the migration.",
    },
    RuleDoc {
        name: "use-before-create",
        severity: Severity::Risky,
        summary: "an object is used before the migration that creates it",
        what_it_does: "Replays what every migration creates, alters and drops, in version order, and reports each \
                       reference to a table, function, type, view or schema that does not exist yet at that point \
                       but is created by a later migration (or later in the same file). Proposes a version order \
                       that works.",
        why_it_matters: "The migration fails on a fresh database (`supabase db reset`, preview branches, CI) even if \
                         it once worked on production, where the object happened to exist already. The seed's \
                         trigger migration ran before the baseline that created its function.",
        example: "-- 20250101000000_add_user_creation_trigger.sql\nCREATE TRIGGER on_auth_user_created AFTER INSERT ON \
                  auth.users\n  FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();\n-- \
                  20250831022018_baseline_schema.sql creates public.handle_new_user()",
        use_instead: "Give the trigger migration a version after the baseline (rename the file), or create the \
                      function in the same migration, before the trigger.",
    },
    RuleDoc {
        name: "cascade-reaches",
        severity: Severity::Risky,
        summary: "a DROP ... CASCADE takes along objects the migrations (or the database) made",
        what_it_does: "Replays the migrations and, at each `DROP ... CASCADE`, names what PostgreSQL would drop with \
                       it: the policies, views, indexes and triggers that use the dropped object, in turn what uses \
                       those, and what a table takes from it (a default, a foreign key, a column of its type), each \
                       with the file and line that made it. With `check --db`, also what depends on it in the \
                       database, as PostgreSQL's `pg_depend` records it.",
        why_it_matters: "CASCADE names nothing. A policy dropped with the function it calls can open rows to \
                         everyone; a column of a dropped type loses every value. The rehearsal sees it afterwards; \
                         this says it before anything runs.",
        example: "CREATE POLICY admins ON public.docs USING (public.is_admin());\n-- later:\n\
                  DROP FUNCTION public.is_admin() CASCADE;  -- takes the policy along",
        use_instead: "Drop or change the dependents first, on purpose, and drop without CASCADE.",
    },
    RuleDoc {
        name: "unattached-trigger-function",
        severity: Severity::Review,
        summary: "a trigger function that no trigger executes",
        what_it_does: "Finds functions that `RETURNS trigger` which no `CREATE TRIGGER` in the migrations executes.",
        why_it_matters: "A trigger function without its trigger does nothing: the seed's `handle_new_user` existed, \
                         but no `public.users` row was created for new sign-ups.",
        example: "CREATE FUNCTION public.handle_new_user() RETURNS trigger ...;  -- and no CREATE TRIGGER",
        use_instead: "CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users\n  FOR EACH ROW EXECUTE \
                      FUNCTION public.handle_new_user();",
    },
    RuleDoc {
        name: "unreadable-file",
        severity: Severity::Risky,
        summary: "a file that cannot be read as SQL: not UTF-8, unreadable, or over the size limit",
        what_it_does: "Reports a file check cannot read (permissions, not valid UTF-8 with the offset of the first \
                       bad byte, larger than SAFEMIG_MAX_MIGRATION_MIB) as a finding on that file; every other \
                       file is checked and reported as usual, and check exits 2 at the end.",
        why_it_matters: "PostgreSQL's client encoding for migrations is UTF-8: a file saved in another encoding fails \
                         (or stores mangled text) when it runs. One such file must not hide the report on all the \
                         others.",
        example: "a migration saved as Latin-1 with `é` in a comment",
        use_instead: "Save the file as UTF-8 (`iconv -f latin1 -t utf-8`), fix its permissions, or split it.",
    },
    RuleDoc {
        name: "duplicate-version",
        severity: Severity::Risky,
        summary: "two migration files have the same version",
        what_it_does: "Finds two files whose names start with the same `<digits>_` version.",
        why_it_matters: "The history has one row per version: one of the files would never run, or the run fails \
                         on the history's primary key.",
        example: "20250101000000_a.sql and 20250101000000_b.sql",
        use_instead: "Give one of them a new, later version.",
    },
    RuleDoc {
        name: "transaction-control",
        severity: Severity::Risky,
        summary: "ROLLBACK, a COMMIT with no BEGIN before it, a nested BEGIN, or two-phase commit inside a migration",
        what_it_does: "Finds transaction control that would end or break the migration's transaction: `ROLLBACK`, \
                       a `COMMIT` with no `BEGIN` of the file's before it (but at the very end), a `BEGIN` inside \
                       the file's own open block, `PREPARE TRANSACTION`. A file's own `BEGIN ... COMMIT` blocks are \
                       absorbed into safemig's transaction wherever they stand.",
        why_it_matters: "safemig (and the Supabase CLI) run each migration in one transaction; a file that commits \
                         halfway can leave half a migration applied.",
        example: "CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);",
        use_instead: "Split the file into two migrations.",
    },
    RuleDoc {
        name: "dynamic-sql",
        severity: Severity::Review,
        summary: "EXECUTE of a string built at run time: not analysed",
        what_it_does: "Reports `EXECUTE` in `DO` blocks and PL/pgSQL functions, whose SQL is built at run time.",
        why_it_matters: "No static check can see what it does. safemig's guards still see its effect when the \
                         migration runs, but `check` cannot vouch for it.",
        example: "DO $$ BEGIN EXECUTE 'DROP TABLE ' || tbl; END $$;",
        use_instead: "Write the statement out, or wrap it in a catalog test so it is at least idempotent.",
    },
];

/// The documentation of a rule by name, per-statement or cross-file.
/// The docs of `not-known-safe`, the default class of statements no rule covers.
pub fn not_known_safe_doc() -> &'static RuleDoc {
    &not_known_safe::DOC
}

pub fn doc(name: &str) -> Option<&'static RuleDoc> {
    all()
        .iter()
        .map(|r| r.doc())
        .chain(CROSS_FILE.iter())
        .chain(std::iter::once(&not_known_safe::DOC))
        .find(|d| d.name == name)
}

// Helpers the rules share.

pub(crate) fn qualified(r: &RangeVar) -> QualifiedName {
    QualifiedName {
        schema: r.schemaname.clone(),
        name: r.relname.clone(),
    }
}

/// `a.b.c` from a list of `String` nodes (function and type names).
pub(crate) fn dotted(names: &[protobuf::Node]) -> String {
    names
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// A function's name from its `funcname` list (`schema.name` or `name`).
pub(crate) fn function_name(names: &[protobuf::Node]) -> QualifiedName {
    let parts: Vec<String> = names
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [.., schema, name] => QualifiedName {
            schema: schema.clone(),
            name: name.clone(),
        },
        [name] => QualifiedName {
            schema: String::new(),
            name: name.clone(),
        },
        [] => QualifiedName {
            schema: String::new(),
            name: String::new(),
        },
    }
}

/// The `ALTER TABLE` commands of a statement, with the table they apply to.
pub(crate) fn alter_table_cmds(node: &NodeEnum) -> Vec<(QualifiedName, &protobuf::AlterTableCmd)> {
    let NodeEnum::AlterTableStmt(stmt) = node else {
        return Vec::new();
    };
    let Some(relation) = stmt.relation.as_ref() else {
        return Vec::new();
    };
    if stmt.objtype != protobuf::ObjectType::ObjectTable as i32 {
        return Vec::new();
    }
    let table = qualified(relation);
    stmt.cmds
        .iter()
        .filter_map(|c| match c.node.as_ref() {
            Some(NodeEnum::AlterTableCmd(cmd)) => Some((table.clone(), cmd.as_ref())),
            _ => None,
        })
        .collect()
}

pub(crate) fn cmd_type(cmd: &protobuf::AlterTableCmd) -> protobuf::AlterTableType {
    protobuf::AlterTableType::try_from(cmd.subtype).unwrap_or(protobuf::AlterTableType::Undefined)
}

/// The column definition an `ADD COLUMN` carries.
pub(crate) fn column_def(cmd: &protobuf::AlterTableCmd) -> Option<&protobuf::ColumnDef> {
    match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
        Some(NodeEnum::ColumnDef(def)) => Some(def),
        _ => None,
    }
}

/// The constraint an `ADD CONSTRAINT` carries.
pub(crate) fn constraint_def(cmd: &protobuf::AlterTableCmd) -> Option<&protobuf::Constraint> {
    match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
        Some(NodeEnum::Constraint(c)) => Some(c),
        _ => None,
    }
}

pub(crate) fn constr_type(c: &protobuf::Constraint) -> protobuf::ConstrType {
    protobuf::ConstrType::try_from(c.contype).unwrap_or(protobuf::ConstrType::Undefined)
}

/// The constraints declared on a column definition.
pub(crate) fn column_constraints(
    def: &protobuf::ColumnDef,
) -> impl Iterator<Item = &protobuf::Constraint> {
    def.constraints
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::Constraint(c)) => Some(c.as_ref()),
            _ => None,
        })
}

/// A type name's last part, lower case (`pg_catalog.int4` -> `int4`).
pub(crate) fn type_last_name(t: &protobuf::TypeName) -> String {
    t.names
        .iter()
        .rev()
        .find_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.to_lowercase()),
            _ => None,
        })
        .unwrap_or_default()
}

/// Every column definition a statement declares: `CREATE TABLE` columns and `ADD COLUMN`s.
pub(crate) fn declared_columns(node: &NodeEnum) -> Vec<&protobuf::ColumnDef> {
    match node {
        NodeEnum::CreateStmt(stmt) => stmt
            .table_elts
            .iter()
            .filter_map(|n| match n.node.as_ref() {
                Some(NodeEnum::ColumnDef(def)) => Some(def.as_ref()),
                _ => None,
            })
            .collect(),
        NodeEnum::AlterTableStmt(_) => alter_table_cmds(node)
            .into_iter()
            .filter(|(_, cmd)| cmd_type(cmd) == protobuf::AlterTableType::AtAddColumn)
            .filter_map(|(_, cmd)| column_def(cmd))
            .collect(),
        _ => Vec::new(),
    }
}

/// The table whose columns [`declared_columns`] returns.
pub(crate) fn declaring_table(node: &NodeEnum) -> Option<QualifiedName> {
    match node {
        NodeEnum::CreateStmt(stmt) => stmt.relation.as_ref().map(qualified),
        NodeEnum::AlterTableStmt(stmt) => stmt.relation.as_ref().map(qualified),
        _ => None,
    }
}

/// [`declared_columns`] with their table and their type's last name (`int4`, `varchar`, `serial`).
pub(crate) fn declared_column_types(
    node: &NodeEnum,
) -> Vec<(QualifiedName, &protobuf::ColumnDef, String)> {
    let Some(table) = declaring_table(node) else {
        return Vec::new();
    };
    declared_columns(node)
        .into_iter()
        .filter_map(|def| Some((table.clone(), def, type_last_name(def.type_name.as_ref()?))))
        .collect()
}

/// The `String` nodes of a list, in order.
pub(crate) fn strings(nodes: &[protobuf::Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

/// The name parts of each object a `DROP` names: `[schema, table]`,
/// `[schema, table, trigger]` for triggers and policies, `[schema, function]`
/// for functions (arguments left out), `[schema]` for schemas.
pub(crate) fn dropped_objects(stmt: &protobuf::DropStmt) -> Vec<Vec<String>> {
    stmt.objects
        .iter()
        .filter_map(|o| match o.node.as_ref() {
            Some(NodeEnum::List(list)) => Some(strings(&list.items)),
            Some(NodeEnum::String(s)) => Some(vec![s.sval.clone()]),
            Some(NodeEnum::ObjectWithArgs(f)) => Some(strings(&f.objname)),
            Some(NodeEnum::TypeName(t)) => Some(strings(&t.names)),
            _ => None,
        })
        .collect()
}

/// Whether an option such as `FULL` or `CONCURRENTLY` is on: written bare, or
/// with an argument other than false / off / 0.
pub(crate) fn option_on(option: &protobuf::DefElem) -> bool {
    match option.arg.as_ref().and_then(|a| a.node.as_ref()) {
        None => true,
        Some(NodeEnum::Boolean(b)) => b.boolval,
        Some(NodeEnum::Integer(i)) => i.ival != 0,
        Some(NodeEnum::String(s)) => {
            !matches!(s.sval.to_lowercase().as_str(), "false" | "off" | "no" | "0")
        }
        Some(_) => true,
    }
}

/// The `DefElem` options of a list with the given name.
pub(crate) fn options_named<'a>(
    options: &'a [protobuf::Node],
    name: &'a str,
) -> impl Iterator<Item = &'a protobuf::DefElem> {
    options.iter().filter_map(move |o| match o.node.as_ref() {
        Some(NodeEnum::DefElem(d)) if d.defname == name => Some(d.as_ref()),
        _ => None,
    })
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs one rule over SQL text, the way `check` does (embedded statements included).
    use super::*;

    pub fn hits(rule: &dyn Rule, sql: &str) -> Vec<Hit> {
        crate::lint::lint_file(sql, &crate::lint::LintOptions::default())
            .statements
            .into_iter()
            .flat_map(|s| s.findings)
            .filter(|f| f.rule == rule.doc().name)
            .map(|f| Hit {
                message: f.message,
                help: f.help,
            })
            .collect()
    }

    /// Findings of the rule named `name`, whatever produces them.
    pub fn hits_of(name: &str, sql: &str) -> Vec<Hit> {
        crate::lint::lint_file(sql, &crate::lint::LintOptions::default())
            .statements
            .into_iter()
            .flat_map(|s| s.findings)
            .filter(|f| f.rule == name)
            .map(|f| Hit {
                message: f.message,
                help: f.help,
            })
            .collect()
    }

    pub fn fires(rule: &dyn Rule, sql: &str) -> bool {
        !hits(rule, sql).is_empty()
    }
}
