//! `add-column-volatile-default`: a new column whose value must be computed for every existing row.

use pg_query::protobuf::{self, ConstrType};
use pg_query::NodeRef;

use super::{
    column_constraints, constr_type, declared_columns, declaring_table, dotted, function_name,
    type_last_name, Ctx, Hit, Rule, RuleDoc, Severity,
};

pub struct AddColumnVolatileDefault;

static DOC: RuleDoc = RuleDoc {
    name: "add-column-volatile-default",
    severity: Severity::Review,
    summary: "ADD COLUMN with a volatile DEFAULT, serial, identity or stored generated column rewrites the table",
    what_it_does: "Finds `ALTER TABLE ... ADD COLUMN` on a table that this migration did not create, when the new \
                   column's value has to be computed row by row: a DEFAULT that calls a volatile function \
                   (`gen_random_uuid()`, `uuid_generate_v4()`, `random()`, `clock_timestamp()`, `nextval()`, or any \
                   function not known to be stable), a `serial` type, `GENERATED ... AS IDENTITY`, or \
                   `GENERATED ALWAYS AS (...) STORED`.",
    why_it_matters: "Since PostgreSQL 11, adding a column with a constant or stable default (`0`, `'draft'`, \
                     `now()`) only updates the catalog and is instant. A volatile default cannot be stored once: \
                     PostgreSQL rewrites every row and rebuilds every index while it holds an ACCESS EXCLUSIVE \
                     lock, so nothing can read or write the table until it is done.",
    example: "ALTER TABLE public.orders ADD COLUMN public_id uuid DEFAULT gen_random_uuid();",
    use_instead: "ALTER TABLE public.orders ADD COLUMN public_id uuid;\n\
                  ALTER TABLE public.orders ALTER COLUMN public_id SET DEFAULT gen_random_uuid();\n\
                  -- then backfill existing rows in batches:\n\
                  UPDATE public.orders SET public_id = gen_random_uuid() WHERE public_id IS NULL AND id BETWEEN ...;",
};

/// Functions that are immutable or stable: a default calling only these is computed once.
pub(crate) const NON_VOLATILE: &[&str] = &[
    "now",
    "transaction_timestamp",
    "statement_timestamp",
    "timezone",
    "current_setting",
    "lower",
    "upper",
    "btrim",
    "ltrim",
    "rtrim",
    "length",
    "concat",
    "concat_ws",
    "replace",
    "to_char",
    "to_date",
    "to_timestamp",
    "date_trunc",
    "date_part",
    "extract",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "make_interval",
    "to_json",
    "to_jsonb",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "abs",
    "round",
];

const SERIALS: &[&str] = &[
    "serial",
    "serial2",
    "serial4",
    "serial8",
    "smallserial",
    "bigserial",
];

impl Rule for AddColumnVolatileDefault {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let pg_query::NodeEnum::AlterTableStmt(_) = ctx.node else {
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
            .filter_map(|def| {
                let why = why_computed_per_row(def)?;
                Some(
                    Hit::new(format!(
                        "adds column `{}` to `{table}`: {why}, so the table is rewritten while reads and writes wait",
                        def.colname
                    ))
                    .help("add the column without it, then set the default and backfill in batches"),
                )
            })
            .collect()
    }
}

fn why_computed_per_row(def: &protobuf::ColumnDef) -> Option<String> {
    let ty = def
        .type_name
        .as_ref()
        .map(type_last_name)
        .unwrap_or_default();
    if SERIALS.contains(&ty.as_str()) {
        return Some(format!(
            "a `{ty}` column takes a new sequence value for every row"
        ));
    }
    column_constraints(def).find_map(|c| match constr_type(c) {
        ConstrType::ConstrIdentity => {
            Some("an identity column takes a new sequence value for every row".to_string())
        }
        ConstrType::ConstrGenerated if c.generated_kind == "s" => {
            Some("a stored generated column is computed and written for every row".to_string())
        }
        ConstrType::ConstrDefault => {
            let call = volatile_call(c.raw_expr.as_ref()?.node.as_ref()?)?;
            Some(format!(
                "its DEFAULT calls `{call}()`, which is evaluated for every row"
            ))
        }
        _ => None,
    })
}

/// The first call in an expression to a function not known to be stable or immutable.
pub(crate) fn volatile_call(expr: &pg_query::NodeEnum) -> Option<String> {
    expr.nodes().into_iter().find_map(|(node, ..)| match node {
        NodeRef::FuncCall(f) => {
            let name = function_name(&f.funcname).name.to_lowercase();
            (!NON_VOLATILE.contains(&name.as_str())).then(|| dotted(&f.funcname))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_volatile_defaults() {
        let found = hits(
            &AddColumnVolatileDefault,
            "ALTER TABLE public.t ADD COLUMN u uuid DEFAULT gen_random_uuid();",
        );
        assert!(
            found[0].message.contains("`u` to `public.t`")
                && found[0].message.contains("gen_random_uuid")
        );
        assert!(fires(
            &AddColumnVolatileDefault,
            "ALTER TABLE t ADD COLUMN u uuid DEFAULT extensions.uuid_generate_v4();"
        ));
        assert!(fires(
            &AddColumnVolatileDefault,
            "ALTER TABLE t ADD COLUMN r float8 NOT NULL DEFAULT (random() * 10);"
        ));
        assert!(fires(
            &AddColumnVolatileDefault,
            "ALTER TABLE t ADD COLUMN n int DEFAULT nextval('s'::regclass);"
        ));
        assert!(fires(
            &AddColumnVolatileDefault,
            "ALTER TABLE t ADD COLUMN c text DEFAULT my_func();"
        ));
    }

    #[test]
    fn fires_on_serial_identity_and_stored_generated() {
        assert!(fires(
            &AddColumnVolatileDefault,
            "ALTER TABLE t ADD COLUMN id bigserial;"
        ));
        assert!(fires(
            &AddColumnVolatileDefault,
            "ALTER TABLE t ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;"
        ));
        assert!(fires(
            &AddColumnVolatileDefault,
            "ALTER TABLE t ADD COLUMN d int GENERATED ALWAYS AS (a * 2) STORED;"
        ));
    }

    #[test]
    fn quiet_on_constant_and_stable_defaults() {
        assert!(!fires(
            &AddColumnVolatileDefault,
            "ALTER TABLE t ADD COLUMN a int DEFAULT 0, ADD COLUMN b text NOT NULL DEFAULT 'x'::text, \
             ADD COLUMN c timestamptz DEFAULT now(), ADD COLUMN d timestamptz DEFAULT CURRENT_TIMESTAMP, \
             ADD COLUMN e timestamp DEFAULT (now() AT TIME ZONE 'utc'), ADD COLUMN f int, \
             ADD COLUMN g text DEFAULT coalesce(NULL, 'x'), ADD COLUMN h int GENERATED ALWAYS AS (a * 2) VIRTUAL;"
        ));
    }

    #[test]
    fn quiet_on_a_table_created_in_the_file() {
        assert!(!fires(
            &AddColumnVolatileDefault,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN id uuid DEFAULT gen_random_uuid();"
        ));
        assert!(!fires(
            &AddColumnVolatileDefault,
            "CREATE TABLE t (id uuid DEFAULT gen_random_uuid(), n bigserial);"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &AddColumnVolatileDefault,
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attname = 'u') THEN \
             ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid(); END IF; END $$;"
        ));
    }
}
