//! `prefer-identity`: a serial column instead of an identity column.

use super::{declared_column_types, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct PreferIdentity;

static DOC: RuleDoc = RuleDoc {
    name: "prefer-identity",
    severity: Severity::Hint,
    summary: "serial types are a legacy shorthand; identity columns are the standard replacement",
    what_it_does: "Finds `serial`, `bigserial` and `smallserial` (`serial2/4/8`) columns in `CREATE TABLE` and \
                   `ALTER TABLE ... ADD COLUMN`.",
    why_it_matters: "A serial column is an ordinary column with a `nextval()` default and a separately owned \
                     sequence: the sequence needs grants of its own (or inserts fail with `permission denied for \
                     sequence`), is easily left behind or out of step when tables are copied or restored, and \
                     nothing stops code from writing ids by hand. `GENERATED ... AS IDENTITY` \
                     (PostgreSQL 10+) ties the sequence to the column, follows the table's grants, and with \
                     ALWAYS rejects hand-written ids. `serial` is also only 32 bits (see prefer-bigint).",
    example: "CREATE TABLE public.events (id serial PRIMARY KEY);",
    use_instead: "CREATE TABLE public.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
};

impl Rule for PreferIdentity {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        declared_column_types(ctx.node)
            .into_iter()
            .filter(|(_, _, ty)| {
                matches!(
                    ty.as_str(),
                    "serial" | "serial2" | "serial4" | "serial8" | "smallserial" | "bigserial"
                )
            })
            .map(|(table, def, ty)| {
                Hit::new(format!(
                    "column `{}` of `{table}` is `{ty}`: use `bigint GENERATED ALWAYS AS IDENTITY`",
                    def.colname
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_serial_types() {
        let found = hits(
            &PreferIdentity,
            "CREATE TABLE public.t (a serial, b bigserial, c smallserial, d serial8);",
        );
        assert_eq!(found.len(), 4);
        assert!(found[1]
            .message
            .contains("`b` of `public.t` is `bigserial`"));
        assert!(fires(
            &PreferIdentity,
            "ALTER TABLE t ADD COLUMN id bigserial;"
        ));
    }

    #[test]
    fn quiet_on_identity_columns() {
        assert!(!fires(
            &PreferIdentity,
            "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY, n int);"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &PreferIdentity,
            "DO $$ BEGIN CREATE TABLE t (id serial); END $$;"
        ));
    }
}
