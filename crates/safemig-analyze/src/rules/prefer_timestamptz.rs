//! `prefer-timestamptz`: a timestamp without time zone.

use super::{declared_column_types, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct PreferTimestamptz;

static DOC: RuleDoc = RuleDoc {
    name: "prefer-timestamptz",
    severity: Severity::Hint,
    summary: "timestamp without time zone loses which instant it meant",
    what_it_does: "Finds `timestamp` (`timestamp without time zone`) columns in `CREATE TABLE` and \
                   `ALTER TABLE ... ADD COLUMN`.",
    why_it_matters: "A `timestamp` stores a wall-clock reading with no zone: `now()` is converted to the \
                     session's time zone and the zone is thrown away, so the same instant is stored differently \
                     by clients in different zones, and comparisons across a daylight-saving change are off by \
                     an hour. `timestamptz` stores the instant (in UTC) and takes the same 8 bytes; \
                     supabase-js and PostgREST return it with an offset.",
    example: "CREATE TABLE public.events (created_at timestamp DEFAULT now());",
    use_instead: "CREATE TABLE public.events (created_at timestamptz DEFAULT now());",
};

impl Rule for PreferTimestamptz {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        declared_column_types(ctx.node)
            .into_iter()
            .filter(|(_, _, ty)| ty == "timestamp")
            .map(|(table, def, _)| {
                Hit::new(format!(
                    "column `{}` of `{table}` is `timestamp` without time zone: use `timestamptz`",
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
    fn fires_on_timestamp() {
        let found = hits(
            &PreferTimestamptz,
            "CREATE TABLE public.t (a timestamp, b timestamp(3) without time zone);",
        );
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("`a` of `public.t`"));
        assert!(fires(
            &PreferTimestamptz,
            "ALTER TABLE t ADD COLUMN c timestamp DEFAULT now();"
        ));
    }

    #[test]
    fn quiet_on_timestamptz() {
        assert!(!fires(
            &PreferTimestamptz,
            "CREATE TABLE t (a timestamptz, b timestamp with time zone, c date, d time);"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &PreferTimestamptz,
            "DO $$ BEGIN CREATE TABLE t (a timestamp); END $$;"
        ));
    }
}
