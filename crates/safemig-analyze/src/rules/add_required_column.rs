//! `add-required-column`: a NOT NULL column without a default is added to an existing table.

use pg_query::protobuf::{self, ConstrType};
use pg_query::NodeEnum;

use super::{
    column_constraints, constr_type, declared_columns, declaring_table, type_last_name, Ctx, Hit,
    Rule, RuleDoc, Severity,
};

pub struct AddRequiredColumn;

static DOC: RuleDoc = RuleDoc {
    name: "add-required-column",
    severity: Severity::Review,
    summary: "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows",
    what_it_does: "Finds `ALTER TABLE ... ADD COLUMN` with `NOT NULL` (or `PRIMARY KEY`) and no `DEFAULT`, identity \
                   or generation expression, on a table that this migration did not create.",
    why_it_matters: "Existing rows would get NULL in the new column, which the constraint forbids, so PostgreSQL \
                     rejects the statement (`column ... contains null values`) as soon as the table has a single \
                     row. The migration passes on an empty development database and fails in production. Even \
                     with a default, application code that inserts without the column keeps working only if the \
                     default is right for it.",
    example: "ALTER TABLE public.profiles ADD COLUMN plan text NOT NULL;",
    use_instead: "ALTER TABLE public.profiles ADD COLUMN plan text NOT NULL DEFAULT 'free';\n\
                  -- or add it nullable, backfill, and set NOT NULL later (see set-not-null)",
};

impl Rule for AddRequiredColumn {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::AlterTableStmt(_) = ctx.node else {
            return Vec::new();
        };
        let Some(table) = declaring_table(ctx.node) else {
            return Vec::new();
        };
        if ctx.file.created_here(&table) {
            return Vec::new();
        }
        declared_columns(ctx.node)
            .into_iter()
            .filter(|def| is_required_without_value(def))
            .map(|def| {
                Hit::new(format!(
                    "adds column `{}` to `{table}` as NOT NULL without a DEFAULT: fails if `{table}` has any row",
                    def.colname
                ))
                .help("give it a DEFAULT, or add it nullable, backfill, then SET NOT NULL")
            })
            .collect()
    }
}

fn is_required_without_value(def: &protobuf::ColumnDef) -> bool {
    let ty = def
        .type_name
        .as_ref()
        .map(type_last_name)
        .unwrap_or_default();
    if matches!(
        ty.as_str(),
        "serial" | "serial2" | "serial4" | "serial8" | "smallserial" | "bigserial"
    ) {
        return false;
    }
    let mut required = def.is_not_null;
    for c in column_constraints(def) {
        match constr_type(c) {
            ConstrType::ConstrNotnull | ConstrType::ConstrPrimary => required = true,
            ConstrType::ConstrDefault
            | ConstrType::ConstrIdentity
            | ConstrType::ConstrGenerated => return false,
            _ => {}
        }
    }
    required
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_not_null_without_default() {
        let found = hits(
            &AddRequiredColumn,
            "ALTER TABLE public.t ADD COLUMN a int NOT NULL, ADD COLUMN IF NOT EXISTS b int PRIMARY KEY;",
        );
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("`a` to `public.t`"));
    }

    #[test]
    fn quiet_with_a_default_identity_serial_or_nullable() {
        assert!(!fires(
            &AddRequiredColumn,
            "ALTER TABLE t ADD COLUMN a int NOT NULL DEFAULT 0, ADD COLUMN b bigint NOT NULL GENERATED ALWAYS AS IDENTITY, \
             ADD COLUMN c bigserial NOT NULL, ADD COLUMN d int, ADD COLUMN e int NOT NULL GENERATED ALWAYS AS (a + 1) STORED;"
        ));
    }

    #[test]
    fn quiet_on_a_table_created_in_the_file() {
        assert!(!fires(
            &AddRequiredColumn,
            "CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN a int NOT NULL;"
        ));
        assert!(!fires(
            &AddRequiredColumn,
            "CREATE TABLE u (a int NOT NULL);"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &AddRequiredColumn,
            "DO $$ BEGIN ALTER TABLE t ADD COLUMN a int NOT NULL; END $$;"
        ));
    }
}
