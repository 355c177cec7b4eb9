//! `not-known-safe`: a statement no rule covers and that is not on the list of
//! kinds known to be harmless. Nothing unknown is "safe".
//!
//! The list below is the whole of what `check` calls safe without a rule looking
//! at it; each entry says why. Everything else is `review` at least, unless a rule
//! already classed the statement.

use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

use super::{alter_table_cmds, cmd_type, Ctx, RuleDoc, Severity};

pub static DOC: RuleDoc = RuleDoc {
    name: "not-known-safe",
    severity: Severity::Review,
    summary: "a statement of a kind safemig does not know to be harmless, and that no rule classes",
    what_it_does: "Classes `review` every statement whose kind is not on safemig's list of kinds known to be \
                   harmless (creating new objects, `ADD COLUMN`, `COMMENT`, `INSERT`, `SET`, ...) and that no \
                   other rule has classed: privileges, ownership, roles, settings of the database or a role, \
                   replaced functions and views, publications, `UPDATE`/`DELETE` with a `WHERE`, and any kind \
                   PostgreSQL adds later.",
    why_it_matters: "`migrate` trusts the class: a linter that calls harmful SQL safe is worse than one that asks \
                     for a look. `GRANT ... TO anon`, `ALTER ROLE ... SET`, `CREATE OR REPLACE VIEW` (which drops \
                     `security_invoker` unless repeated), `ALTER DEFAULT PRIVILEGES` change who sees what or how \
                     the application behaves, without dropping anything.",
    example: "GRANT SELECT ON public.profiles TO anon;",
    use_instead: "Review it. When it is intended, suppress the finding where it is:\n\
                  -- safemig:ignore not-known-safe profiles are public by design\n\
                  GRANT SELECT ON public.profiles TO anon;",
};

/// Extensions that give SQL a way out of the database (other databases, HTTP):
/// creating one changes what a later statement can reach.
const REACHING_EXTENSIONS: &[&str] = &[
    "dblink",
    "postgres_fdw",
    "pg_net",
    "http",
    "wrappers",
    "pgsql-http",
];

/// Schemas whose tables the platform makes and owns (Supabase Auth, Storage):
/// changing their shape is not the project's to do, even additively.
const PLATFORM_SCHEMAS: &[&str] = &["auth", "storage"];

/// Why this statement is known to be harmless, or `None`.
pub fn known_safe(ctx: &Ctx<'_>) -> Option<&'static str> {
    use NodeEnum as N;
    let here = |r: &pg_query::protobuf::RangeVar| ctx.file.created_here(&super::qualified(r));
    Some(match ctx.node {
        N::CreateStmt(_) | N::CreateTableAsStmt(_) => "creates a new table",
        // CONCURRENTLY runs outside the migration's transaction: alone in its file
        // that is what was meant; next to other statements it splits the migration.
        N::IndexStmt(i)
            if (!i.concurrent || ctx.file.statement_count == 1)
                && (!i.unique || !i.concurrent || i.relation.as_ref().is_some_and(here)) =>
        {
            "an index; its locks are index-without-concurrently's"
        }
        N::CreateSchemaStmt(_) => "creates a schema",
        N::CreateSeqStmt(_) => "creates a sequence",
        N::CreateEnumStmt(_)
        | N::CompositeTypeStmt(_)
        | N::CreateDomainStmt(_)
        | N::CreateRangeStmt(_) => "creates a type",
        N::DefineStmt(d) if !d.replace => {
            "creates an aggregate, operator, collation or text search object"
        }
        N::CreateStatsStmt(_) => "creates extended statistics",
        N::CreateExtensionStmt(e) if !REACHING_EXTENSIONS.contains(&e.extname.as_str()) => {
            "creates an extension"
        }
        // A trigger on a table in use runs on every write from now on: review.
        N::CreateTrigStmt(t) if !t.replace && t.relation.as_ref().is_some_and(here) => {
            "a trigger on a table created in the same file"
        }
        // CREATE OR REPLACE FUNCTION is how most Supabase migrations create one;
        // drift and the rehearsal compare what a replaced body does.
        N::CreateFunctionStmt(f) if !reads_auth_with_owner_rights(f) => {
            "creates or replaces a function"
        }
        N::ViewStmt(v) if !v.replace => {
            "creates a view; view-bypasses-rls looks at whose rights it runs with"
        }
        N::ViewStmt(v) if v.view.as_ref().is_some_and(here) => {
            "replaces a view created in the same file"
        }
        N::AlterEnumStmt(e) if e.old_val.is_empty() => "adds a value to an enum",
        N::AlterDomainStmt(d)
            if d.subtype == "C"
                && matches!(d.def.as_ref().and_then(|x| x.node.as_ref()), Some(N::Constraint(c)) if c.skip_validation) =>
        {
            "a domain constraint NOT VALID: only new values are checked"
        }
        // Taking a schema the API does not expose away from its roles breaks no API call.
        N::GrantStmt(g)
            if !g.is_grant
                && g.objtype == pg_query::protobuf::ObjectType::ObjectSchema as i32
                && g.objects.iter().all(|o| {
                    matches!(o.node.as_ref(),
                    Some(N::String(s)) if !ctx.file.exposed_schemas.iter().any(|e| *e == s.sval))
                }) =>
        {
            "takes a schema the API does not expose away from roles"
        }
        N::GrantStmt(g) if privileges_on_new_objects(ctx, g) => {
            "privileges on objects created in the same file, to roles other than anon"
        }
        N::CreatePolicyStmt(p) if p.table.as_ref().is_some_and(here) => {
            "a policy on a table created in the same file"
        }
        N::CommentStmt(_) => "a comment",
        N::InsertStmt(i) if i.relation.as_ref().is_some_and(here) => {
            "adds rows to a table created in the same file"
        }
        N::InsertStmt(i) if private_bucket(i) => "creates a storage bucket that is not public",
        N::MergeStmt(m) if m.relation.as_ref().is_some_and(here) => {
            "merges into a table created in the same file"
        }
        N::SelectStmt(s) if s.into_clause.is_none() && calls_only_harmless(ctx) => "reads",
        N::RefreshMatViewStmt(r) if r.relation.as_ref().is_some_and(here) => {
            "fills a materialized view created in the same file"
        }
        N::VariableSetStmt(v) if !v.name.eq_ignore_ascii_case("session_replication_role") => {
            "a session setting"
        }
        N::VariableShowStmt(_) => "a session setting",
        N::TransactionStmt(_) => "transaction control",
        N::DoStmt(_) => "its statements are checked one by one",
        N::NotifyStmt(_) | N::ListenStmt(_) => "a notification",
        // ALTER TABLE only: ALTER VIEW/INDEX/TYPE/SEQUENCE ... are not looked at here.
        N::AlterTableStmt(a) if a.objtype == pg_query::protobuf::ObjectType::ObjectTable as i32 => {
            let harmless = alter_table_cmds(ctx.node).iter().all(|(table, cmd)| {
                let new = ctx.file.created_here(table);
                (new || !PLATFORM_SCHEMAS.contains(&super::effective_schema(table)))
                    && match cmd_type(cmd) {
                        // An exclusion constraint cannot be NOT VALID: it checks every row under lock.
                        AlterTableType::AtAddConstraint => {
                            new || super::constraint_def(cmd).is_none_or(|c| {
                                super::constr_type(c)
                                    != pg_query::protobuf::ConstrType::ConstrExclusion
                            })
                        }
                        // Validating in the file that added it NOT VALID holds the ADD's lock while it scans.
                        AlterTableType::AtValidateConstraint => {
                            new || !ctx
                                .file
                                .not_valid_constraints
                                .iter()
                                .any(|(t, c)| t == table && *c == cmd.name)
                        }
                        AlterTableType::AtDropColumn => {
                            ctx.file.adds_column(table, &cmd.name) || new
                        }
                        AlterTableType::AtAddColumn
                        | AlterTableType::AtEnableRowSecurity
                        | AlterTableType::AtSetNotNull
                        | AlterTableType::AtAlterColumnType
                        | AlterTableType::AtAddIndex => true,
                        // Dropping a default changes what inserts do; setting one does not.
                        AlterTableType::AtColumnDefault => cmd.def.is_some() || new,
                        AlterTableType::AtAttachPartition => {
                            new && attaches_new_partition(ctx, cmd)
                        }
                        _ => new,
                    }
            });
            if !harmless {
                return None;
            }
            "adds to a table, or changes it in ways other rules class"
        }
        // Kinds a rule classes in full (drops, renames, truncate, vacuum, ...):
        // when that rule is quiet, the statement is one it knows to be harmless.
        // Without CASCADE a schema drop fails unless it is empty: a look, not a loss.
        N::DropStmt(d)
            if covered_drop(d.remove_type)
                && !(d.remove_type == pg_query::protobuf::ObjectType::ObjectSchema as i32
                    && d.behavior != pg_query::protobuf::DropBehavior::DropCascade as i32) =>
        {
            "a drop its rules look at"
        }
        N::RenameStmt(r) if covered_rename(r.rename_type) => "a rename its rules look at",
        N::TruncateStmt(_) | N::ClusterStmt(_) | N::VacuumStmt(_) => "its rules look at it",
        N::UpdateStmt(u) if u.where_clause.is_none() => "update-without-where looks at it",
        N::DeleteStmt(d) if d.where_clause.is_none() => "delete-without-where looks at it",
        N::CreatedbStmt(_) | N::DropdbStmt(_) => "drop-database looks at it",
        _ => return None,
    })
}

/// A SECURITY DEFINER function that reads `auth.users` (or another `auth` table):
/// with its owner's rights, whoever may call it reads accounts.
fn reads_auth_with_owner_rights(f: &pg_query::protobuf::CreateFunctionStmt) -> bool {
    let definer = f.options.iter().any(|o| {
        matches!(o.node.as_ref(),
        Some(NodeEnum::DefElem(d)) if d.defname == "security" && super::option_on(d))
    });
    definer
        && super::always_true_function::body(f)
            .is_some_and(|b| b.to_lowercase().contains("auth.users"))
}

/// `INSERT INTO storage.buckets` whose rows do not say `public = true`.
fn private_bucket(i: &pg_query::protobuf::InsertStmt) -> bool {
    let Some(r) = i.relation.as_ref() else {
        return false;
    };
    if !(r.schemaname == "storage" && r.relname == "buckets") {
        return false;
    }
    let columns: Vec<String> = i
        .cols
        .iter()
        .filter_map(|c| match c.node.as_ref() {
            Some(NodeEnum::ResTarget(t)) => Some(t.name.clone()),
            _ => None,
        })
        .collect();
    let Some(public) = columns.iter().position(|c| c == "public") else {
        return true; // the column's default: not public
    };
    let Some(NodeEnum::SelectStmt(s)) = i.select_stmt.as_deref().and_then(|n| n.node.as_ref())
    else {
        return false;
    };
    !s.values_lists.is_empty()
        && s.values_lists.iter().all(|row| match row.node.as_ref() {
            Some(NodeEnum::List(l)) => !matches!(l.items.get(public).and_then(|v| v.node.as_ref()),
                Some(NodeEnum::AConst(c)) if matches!(c.val.as_ref(), Some(pg_query::protobuf::a_const::Val::Boolval(b)) if b.boolval)),
            _ => false,
        })
}

/// `GRANT`/`REVOKE` on tables, views, sequences or functions all created in this
/// file, and (for a grant) to roles other than `anon` and `PUBLIC`.
fn privileges_on_new_objects(ctx: &Ctx<'_>, g: &pg_query::protobuf::GrantStmt) -> bool {
    use pg_query::protobuf::{GrantTargetType, ObjectType};
    if g.targtype != GrantTargetType::AclTargetObject as i32 {
        return false;
    }
    let to_anon = super::reaches_anon(&g.grantees);
    if g.is_grant && to_anon {
        return false;
    }
    !g.objects.is_empty()
        && g.objects.iter().all(|o| match o.node.as_ref() {
            Some(NodeEnum::RangeVar(r)) if g.objtype == ObjectType::ObjectTable as i32 => {
                ctx.file.created_here(&super::qualified(r))
            }
            Some(NodeEnum::RangeVar(r)) if g.objtype == ObjectType::ObjectSequence as i32 => {
                ctx.file.creates_sequence(&super::qualified(r))
            }
            Some(NodeEnum::ObjectWithArgs(f)) => {
                ctx.file.creates_function(&super::function_name(&f.objname))
            }
            _ => false,
        })
}

/// `ATTACH PARTITION` of a table created in this file too.
fn attaches_new_partition(ctx: &Ctx<'_>, cmd: &pg_query::protobuf::AlterTableCmd) -> bool {
    match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
        Some(NodeEnum::PartitionCmd(p)) => p
            .name
            .as_ref()
            .is_some_and(|r| ctx.file.created_here(&super::qualified(r))),
        _ => false,
    }
}

/// Functions a top-level SELECT may call and still only read: anything else
/// (`cron.schedule`, `vault.create_secret`, a function of the project's own)
/// does what its body says.
const HARMLESS_CALLS: &[&str] = &[
    "set_config",
    "current_setting",
    "now",
    "count",
    "version",
    "current_user",
    "pg_sleep",
    "to_regclass",
    "format",
    "concat",
    "coalesce",
    "pg_advisory_xact_lock",
    "max",
    "min",
];

fn calls_only_harmless(ctx: &Ctx<'_>) -> bool {
    ctx.node.nodes().into_iter().all(|(n, ..)| match n {
        pg_query::NodeRef::FuncCall(f) => {
            let name = super::function_name(&f.funcname);
            let builtin = name.schema.is_empty() || name.schema == "pg_catalog";
            let lower = name.name.to_ascii_lowercase();
            builtin
                && (HARMLESS_CALLS.contains(&lower.as_str())
                    || (lower == "pg_get_serial_sequence")
                    || (lower == "setval" && super::sequence_reset::targets_new(ctx, f)))
        }
        _ => true,
    })
}

fn covered_drop(kind: i32) -> bool {
    use pg_query::protobuf::ObjectType as O;
    [
        O::ObjectTable,
        O::ObjectSchema,
        O::ObjectFunction,
        O::ObjectProcedure,
        O::ObjectTrigger,
        O::ObjectPolicy,
        O::ObjectSequence,
    ]
    .iter()
    .any(|k| *k as i32 == kind)
}

fn covered_rename(kind: i32) -> bool {
    use pg_query::protobuf::ObjectType as O;
    [O::ObjectTable, O::ObjectColumn]
        .iter()
        .any(|k| *k as i32 == kind)
}

/// What kind of statement it is, for the message (`GrantStmt` -> `GRANT`).
pub fn kind_name(node: &NodeEnum) -> String {
    use NodeEnum as N;
    match node {
        N::GrantStmt(g) if g.is_grant => "GRANT".into(),
        N::GrantStmt(_) => "REVOKE".into(),
        N::GrantRoleStmt(_) => "GRANT/REVOKE of a role".into(),
        N::AlterRoleSetStmt(_) | N::AlterRoleStmt(_) => "ALTER ROLE".into(),
        N::AlterDatabaseSetStmt(_) | N::AlterDatabaseStmt(_) => "ALTER DATABASE".into(),
        N::AlterDefaultPrivilegesStmt(_) => "ALTER DEFAULT PRIVILEGES".into(),
        N::AlterOwnerStmt(_) => "ALTER ... OWNER TO".into(),
        N::SelectStmt(_) => "SELECT calling a function".into(),
        N::ViewStmt(_) => "CREATE OR REPLACE VIEW".into(),
        N::UpdateStmt(_) => "UPDATE".into(),
        N::DeleteStmt(_) => "DELETE".into(),
        N::MergeStmt(_) => "MERGE".into(),
        N::InsertStmt(_) => "INSERT ... ON CONFLICT".into(),
        N::CreatePolicyStmt(_) => "CREATE POLICY on an existing table".into(),
        N::AlterTableStmt(_) => "ALTER TABLE".into(),
        // The parse tree's own name (`AlterFunctionStmt`).
        other => crate::parse::node_name(other),
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::hits_of;

    fn flagged(sql: &str) -> bool {
        !hits_of("not-known-safe", sql).is_empty()
    }

    #[test]
    fn unknown_kinds_are_review() {
        for sql in [
            "GRANT SELECT ON public.profiles TO reporting;",
            "INSERT INTO public.kinds VALUES (1, 'book');",
            "REVOKE ALL ON public.orders FROM anon;",
            "ALTER TABLE public.orders FORCE ROW LEVEL SECURITY;",
            "CREATE TRIGGER t AFTER INSERT ON public.orders FOR EACH ROW EXECUTE FUNCTION public.f();",
            "ALTER VIEW public.v SET (security_invoker = true);",
            "REINDEX TABLE public.orders;",
            "SET session_replication_role = replica;",
            "CREATE OR REPLACE VIEW public.w WITH (security_invoker = true) AS SELECT 1 AS x;",
            "ALTER ROLE authenticated SET statement_timeout = 0;",
            "CREATE OR REPLACE VIEW public.v AS SELECT 1 AS x;",
            "SELECT cron.schedule('wipe', '0 * * * *', $$DELETE FROM public.payments$$);",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon;",
            "ALTER TABLE public.t OWNER TO someone;",
            "ALTER PUBLICATION supabase_realtime ADD TABLE public.t;",
        ] {
            assert!(flagged(sql), "{sql}");
        }
    }

    #[test]
    fn plain_additive_migrations_stay_safe() {
        for sql in [
            "CREATE TABLE public.t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);",
            "ALTER TABLE public.t ADD COLUMN note text;",
            "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
            "CREATE TABLE public.n (id int); CREATE POLICY p ON public.n USING (true);",
            "CREATE TABLE public.kinds (id int, label text); INSERT INTO public.kinds VALUES (1, 'book');",
            "COMMENT ON TABLE public.t IS 'x';",
            "SET lock_timeout = '5s';",
            "CREATE OR REPLACE FUNCTION public.g() RETURNS int LANGUAGE sql AS 'SELECT 1';",
            "CREATE VIEW public.w WITH (security_invoker = true) AS SELECT 1 AS x;",
            "ALTER TYPE public.status ADD VALUE IF NOT EXISTS 'archived';",
            "INSERT INTO storage.buckets (id, name) VALUES ('a', 'a') ON CONFLICT (id) DO NOTHING;",
            "REVOKE ALL ON SCHEMA private FROM anon, authenticated;",
            "SELECT set_config('search_path', '', false);",
            "SET lock_timeout = '5s';\nCREATE INDEX CONCURRENTLY i ON public.orders (created_at);",
        ] {
            assert!(!flagged(sql), "{sql}");
        }
    }

    #[test]
    fn a_statement_another_rule_classes_gets_no_second_finding() {
        assert!(!flagged("UPDATE public.t SET email = NULL WHERE id = 1;"));
        assert!(!flagged("DROP TABLE public.t;"));
    }
}
