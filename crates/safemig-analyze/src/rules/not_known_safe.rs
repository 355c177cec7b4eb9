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

/// Why this statement is known to be harmless, or `None`.
pub fn known_safe(ctx: &Ctx<'_>) -> Option<&'static str> {
    use NodeEnum as N;
    Some(match ctx.node {
        N::CreateStmt(_) | N::CreateTableAsStmt(_) => "creates a new table",
        N::IndexStmt(_) => "an index; its locks are index-without-concurrently's",
        N::CreateSchemaStmt(_) => "creates a schema",
        N::CreateSeqStmt(_) => "creates a sequence",
        N::CreateEnumStmt(_) | N::CompositeTypeStmt(_) | N::CreateDomainStmt(_) | N::CreateRangeStmt(_) => {
            "creates a type"
        }
        N::CreateExtensionStmt(_) => "creates an extension",
        N::CreateTrigStmt(t) if !t.replace => "creates a trigger; trigger rules look at it",
        // CREATE OR REPLACE FUNCTION is how most Supabase migrations create one;
        // drift and the rehearsal compare what a replaced body does.
        N::CreateFunctionStmt(_) => "creates or replaces a function",
        N::ViewStmt(v) if !v.replace || security_invoker(v) => "creates a view (security_invoker kept)",
        N::AlterEnumStmt(e) if e.old_val.is_empty() => "adds a value to an enum",
        N::GrantStmt(g) if !g.is_grant => "takes privileges away (REVOKE)",
        N::CreatePolicyStmt(p) if p.table.as_ref().is_some_and(|t| ctx.file.created_here(&super::qualified(t))) => {
            "a policy on a table created in the same file"
        }
        N::CommentStmt(_) => "a comment",
        N::InsertStmt(i)
            if i.on_conflict_clause.as_ref().is_none_or(|c| {
                c.action == pg_query::protobuf::OnConflictAction::OnconflictNothing as i32
            }) =>
        {
            "adds rows"
        }
        N::SelectStmt(s) if s.into_clause.is_none() && calls_only_harmless(ctx.node) => "reads",
        N::VariableSetStmt(_) | N::VariableShowStmt(_) => "a session setting",
        N::TransactionStmt(_) => "transaction control",
        N::DoStmt(_) => "its statements are checked one by one",
        N::NotifyStmt(_) | N::ListenStmt(_) => "a notification",
        N::AlterTableStmt(_) => {
            let harmless = alter_table_cmds(ctx.node).iter().all(|(_, cmd)| {
                matches!(
                    cmd_type(cmd),
                    AlterTableType::AtAddColumn
                        | AlterTableType::AtAddConstraint
                        | AlterTableType::AtValidateConstraint
                        | AlterTableType::AtEnableRowSecurity
                        | AlterTableType::AtForceRowSecurity
                        | AlterTableType::AtColumnDefault
                        | AlterTableType::AtSetNotNull
                        | AlterTableType::AtAlterColumnType
                        | AlterTableType::AtAddIndex
                )
            });
            if !harmless {
                return None;
            }
            "adds to a table, or changes it in ways other rules class"
        }
        // Kinds a rule classes in full (drops, renames, truncate, vacuum, ...):
        // when that rule is quiet, the statement is one it knows to be harmless.
        N::DropStmt(d) if covered_drop(d.remove_type) => "a drop its rules look at",
        N::RenameStmt(r) if covered_rename(r.rename_type) => "a rename its rules look at",
        N::TruncateStmt(_) | N::ClusterStmt(_) | N::VacuumStmt(_) | N::ReindexStmt(_) => {
            "its rules look at it"
        }
        N::UpdateStmt(u) if u.where_clause.is_none() => "update-without-where looks at it",
        N::DeleteStmt(d) if d.where_clause.is_none() => "delete-without-where looks at it",
        N::CreatedbStmt(_) | N::DropdbStmt(_) => "drop-database looks at it",
        _ => return None,
    })
}

fn security_invoker(v: &pg_query::protobuf::ViewStmt) -> bool {
    v.options.iter().any(|o| match o.node.as_ref() {
        Some(NodeEnum::DefElem(d)) => d.defname.eq_ignore_ascii_case("security_invoker"),
        _ => false,
    })
}

/// Functions a top-level SELECT may call and still only read: anything else
/// (`cron.schedule`, `vault.create_secret`, a function of the project's own)
/// does what its body says.
const HARMLESS_CALLS: &[&str] = &[
    "set_config", "current_setting", "now", "count", "version", "current_user", "pg_sleep",
    "to_regclass", "format", "concat", "coalesce", "pg_advisory_xact_lock",
];

fn calls_only_harmless(node: &NodeEnum) -> bool {
    node.nodes().into_iter().all(|(n, ..)| match n {
        pg_query::NodeRef::FuncCall(f) => {
            let name = super::function_name(&f.funcname);
            (name.schema.is_empty() || name.schema == "pg_catalog")
                && HARMLESS_CALLS.contains(&name.name.to_ascii_lowercase().as_str())
        }
        _ => true,
    })
}

fn covered_drop(kind: i32) -> bool {
    use pg_query::protobuf::ObjectType as O;
    [O::ObjectTable, O::ObjectIndex, O::ObjectSchema, O::ObjectFunction, O::ObjectProcedure, O::ObjectTrigger, O::ObjectPolicy]
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
            "GRANT SELECT ON public.profiles TO anon;",
            "ALTER ROLE authenticated SET statement_timeout = 0;",
            "CREATE OR REPLACE VIEW public.v AS SELECT 1 AS x;",
            "SELECT cron.schedule('wipe', '0 * * * *', $$DELETE FROM public.payments$$);",
            "UPDATE public.t SET x = x + 1 WHERE true;",
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
            "INSERT INTO public.kinds VALUES (1, 'book');",
            "COMMENT ON TABLE public.t IS 'x';",
            "SET lock_timeout = '5s';",
            "CREATE OR REPLACE FUNCTION public.g() RETURNS int LANGUAGE sql AS 'SELECT 1';",
            "CREATE OR REPLACE VIEW public.w WITH (security_invoker = true) AS SELECT 1 AS x;",
            "ALTER TYPE public.status ADD VALUE IF NOT EXISTS 'archived';",
            "INSERT INTO storage.buckets (id, name) VALUES ('a', 'a') ON CONFLICT (id) DO NOTHING;",
            "REVOKE ALL ON SCHEMA private FROM anon, authenticated;",
            "SELECT set_config('search_path', '', false);",
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
