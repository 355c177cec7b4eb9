//! `prefer-bigint`: an integer column that can run out of values.

use super::{declared_column_types, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct PreferBigint;

static DOC: RuleDoc = RuleDoc {
    name: "prefer-bigint",
    severity: Severity::Hint,
    summary: "smallint and integer columns can overflow; bigint costs little more",
    what_it_does: "Finds `smallint` (`int2`) and `integer` (`int`, `int4`) columns in `CREATE TABLE` and \
                   `ALTER TABLE ... ADD COLUMN`.",
    why_it_matters: "An `integer` tops out at 2,147,483,647 and a `smallint` at 32,767. Ids and counters reach \
                     that sooner than expected, and then every insert fails; changing the type later rewrites \
                     the table under an ACCESS EXCLUSIVE lock (see change-column-type). A `bigint` takes 4 more \
                     bytes per row, often nothing at all after alignment padding.",
    example: "CREATE TABLE public.events (id integer PRIMARY KEY, attempts smallint);",
    use_instead: "CREATE TABLE public.events (id bigint PRIMARY KEY, attempts bigint);",
};

impl Rule for PreferBigint {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        declared_column_types(ctx.node)
            .into_iter()
            .filter_map(|(table, def, ty)| {
                let written = match ty.as_str() {
                    "int4" => "integer",
                    "int2" => "smallint",
                    _ => return None,
                };
                Some(Hit::new(format!(
                    "column `{}` of `{table}` is `{written}`: use `bigint`",
                    def.colname
                )))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_int_and_smallint() {
        let found = hits(
            &PreferBigint,
            "CREATE TABLE public.t (a int, b smallint, c integer, d int4, e int2);",
        );
        assert_eq!(found.len(), 5);
        assert!(found[0].message.contains("`a` of `public.t` is `integer`"));
        assert!(fires(&PreferBigint, "ALTER TABLE t ADD COLUMN n int;"));
    }

    #[test]
    fn quiet_on_bigint_and_other_types() {
        assert!(!fires(
            &PreferBigint,
            "CREATE TABLE t (a bigint, b int8, c numeric, d text, e bigserial, f serial);"
        ));
        assert!(!fires(
            &PreferBigint,
            "ALTER TABLE t ALTER COLUMN a TYPE int;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &PreferBigint,
            "DO $$ BEGIN ALTER TABLE t ADD COLUMN n int; END $$;"
        ));
    }
}
