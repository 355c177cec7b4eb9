//! `prefer-text`: a varchar(n) whose limit PostgreSQL makes costly to change.

use pg_query::protobuf::a_const::Val;
use pg_query::NodeEnum;

use super::{declared_column_types, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct PreferText;

static DOC: RuleDoc = RuleDoc {
    name: "prefer-text",
    severity: Severity::Hint,
    summary: "varchar(n) gains nothing over text in PostgreSQL, and its limit is costly to lower",
    what_it_does: "Finds `varchar(n)` (`character varying(n)`) columns in `CREATE TABLE` and \
                   `ALTER TABLE ... ADD COLUMN`. `varchar` without a length is left alone.",
    why_it_matters: "PostgreSQL stores `text` and `varchar` the same way: the length limit buys no space or speed. \
                     It does turn a too-long value into a failed insert, and lowering the limit later (or any \
                     type change other than raising it) rewrites the table under an ACCESS EXCLUSIVE lock. A \
                     CHECK constraint states the same limit and can be changed with `NOT VALID`, without a \
                     rewrite.",
    example: "CREATE TABLE public.profiles (username varchar(32));",
    use_instead: "CREATE TABLE public.profiles (username text CHECK (char_length(username) <= 32));",
};

impl Rule for PreferText {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        declared_column_types(ctx.node)
            .into_iter()
            .filter(|(_, def, ty)| ty == "varchar" && def.type_name.as_ref().is_some_and(|t| !t.typmods.is_empty()))
            .map(|(table, def, _)| {
                let length = def
                    .type_name
                    .as_ref()
                    .and_then(|t| t.typmods.first())
                    .and_then(|m| match m.node.as_ref() {
                        Some(NodeEnum::AConst(c)) => match c.val.as_ref() {
                            Some(Val::Ival(i)) => Some(i.ival.to_string()),
                            _ => None,
                        },
                        _ => None,
                    })
                    .unwrap_or_else(|| "n".into());
                Hit::new(format!(
                    "column `{}` of `{table}` is `varchar({length})`: use `text`, with a CHECK constraint if the limit matters",
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
    fn fires_on_varchar_with_a_length() {
        let found = hits(
            &PreferText,
            "CREATE TABLE public.t (a varchar(32), b character varying(10));",
        );
        assert_eq!(found.len(), 2);
        assert!(found[0]
            .message
            .contains("`a` of `public.t` is `varchar(32)`"));
        assert!(fires(&PreferText, "ALTER TABLE t ADD COLUMN c varchar(5);"));
    }

    #[test]
    fn quiet_on_text_and_unbounded_varchar() {
        assert!(!fires(
            &PreferText,
            "CREATE TABLE t (a text, b varchar, c char(3));"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &PreferText,
            "DO $$ BEGIN ALTER TABLE t ADD COLUMN c varchar(5); END $$;"
        ));
    }
}
