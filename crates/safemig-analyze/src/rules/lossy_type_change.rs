//! `lossy-type-change`: a column's type change that may change existing values.

use pg_query::protobuf::AlterTableType;

use pg_query::NodeEnum;

use super::{
    alter_table_cmds, cmd_type, column_def, type_last_name, Ctx, Hit, Rule, RuleDoc, Severity,
};

pub struct LossyTypeChange;

static DOC: RuleDoc = RuleDoc {
    name: "lossy-type-change",
    severity: Severity::Risky,
    summary: "ALTER COLUMN ... TYPE that may silently change values (USING, date, rounding numeric or integer types)",
    what_it_does: "Finds `ALTER TABLE ... ALTER COLUMN ... TYPE` on a table this migration did not create when \
                   the change can alter stored values without an error: any `USING` expression, or a new type that \
                   drops precision (`date`, `time`, `numeric(p,s)`, `smallint`/`integer`, `real`).",
    why_it_matters: "PostgreSQL converts every row and reports nothing when a value changes on the way: \
                     `timestamptz` to `date` drops the time, `numeric(10,2)` to `numeric(10,0)` rounds, \
                     `USING left(code, 3)` cuts. The old values are gone once the migration commits. `safemig \
                     migrate` tests each row before the statement runs and rolls the migration back when a value \
                     would not survive (the new value, cast back, differs).",
    example: "ALTER TABLE public.orders ALTER COLUMN placed_at TYPE date;",
    use_instead: "Add a column of the new type, fill it, compare, and drop the old column later:\n\
                  ALTER TABLE public.orders ADD COLUMN placed_on date;\n\
                  UPDATE public.orders SET placed_on = placed_at::date;",
};

/// Types a value can be converted into with less precision than it had, without an error.
const NARROWING: &[&str] = &[
    "date", "time", "timetz", "int2", "int4", "int", "integer", "smallint", "float4", "real",
    "money",
];

impl Rule for LossyTypeChange {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        alter_table_cmds(ctx.node)
            .into_iter()
            .filter(|(table, cmd)| {
                cmd_type(cmd) == AlterTableType::AtAlterColumnType && !ctx.file.created_here(table)
            })
            .filter_map(|(table, cmd)| {
                let def = column_def(cmd)?;
                let type_name = def.type_name.as_ref()?;
                let name = type_last_name(type_name).to_ascii_lowercase();
                let plain_cast = def.raw_default.as_deref().and_then(|d| d.node.as_ref()).is_some_and(|d| {
                    matches!(d, NodeEnum::TypeCast(t) if matches!(t.arg.as_deref().and_then(|a| a.node.as_ref()),
                        Some(NodeEnum::ColumnRef(c)) if c.fields.last().is_some_and(|f| matches!(f.node.as_ref(), Some(NodeEnum::String(s)) if s.sval == cmd.name))))
                });
                let why = if def.raw_default.is_some() && !plain_cast {
                    "its USING expression computes every new value".to_string()
                } else if name == "numeric" && !type_name.typmods.is_empty() {
                    "numeric with a precision and scale rounds values with more digits".to_string()
                } else if NARROWING.contains(&name.as_str()) {
                    format!("converting to `{name}` can drop precision without an error")
                } else {
                    return None;
                };
                Some(
                    Hit::new(format!(
                        "changes the type of column `{}` of `{table}`: {why}",
                        cmd.name
                    ))
                    .help("add a column of the new type, fill and compare it, then drop the old one"),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_using_and_narrowing_types() {
        assert!(fires(
            &LossyTypeChange,
            "ALTER TABLE public.t ALTER COLUMN a TYPE date;"
        ));
        assert!(fires(
            &LossyTypeChange,
            "ALTER TABLE public.t ALTER COLUMN a TYPE numeric(10,0);"
        ));
        assert!(fires(
            &LossyTypeChange,
            "ALTER TABLE public.t ALTER COLUMN a TYPE varchar(3) USING left(a, 3);"
        ));
        assert!(fires(
            &LossyTypeChange,
            "ALTER TABLE public.t ALTER COLUMN a TYPE integer;"
        ));
    }

    #[test]
    fn quiet_on_widening_and_new_tables() {
        assert!(!fires(&LossyTypeChange, "ALTER TABLE public.t ALTER COLUMN a TYPE bigint, ALTER COLUMN b TYPE text, ALTER COLUMN c TYPE varchar(20);"));
        assert!(!fires(
            &LossyTypeChange,
            "CREATE TABLE public.t (a timestamptz); ALTER TABLE public.t ALTER COLUMN a TYPE date;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &LossyTypeChange,
            "DO $$ BEGIN ALTER TABLE public.t ALTER COLUMN a TYPE date; END $$;"
        ));
    }
}
