//! `ban-char-type`: a blank-padded char(n) column.

use super::{declared_column_types, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct BanCharType;

static DOC: RuleDoc = RuleDoc {
    name: "ban-char-type",
    severity: Severity::Hint,
    summary: "char(n) pads values with spaces and is no faster than text",
    what_it_does: "Finds `char(n)`, `character(n)`, `char` and `character` (internally `bpchar`) columns in \
                   `CREATE TABLE` and `ALTER TABLE ... ADD COLUMN`. The single-byte internal type `\"char\"` is \
                   left alone.",
    why_it_matters: "`char(n)` pads every value with spaces to n characters and ignores trailing spaces in \
                     comparisons, but not in `LIKE`, regular expressions or once cast to `text`, which makes for \
                     confusing bugs. It takes more space than `text`, not less, and has no speed advantage in \
                     PostgreSQL. Plain `char` means `char(1)`: any longer value is rejected.",
    example: "CREATE TABLE public.countries (code char(2));",
    use_instead: "CREATE TABLE public.countries (code text CHECK (char_length(code) = 2));",
};

impl Rule for BanCharType {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        declared_column_types(ctx.node)
            .into_iter()
            .filter(|(_, _, ty)| ty == "bpchar")
            .map(|(table, def, _)| {
                Hit::new(format!(
                    "column `{}` of `{table}` is `char(n)`, padded with spaces: use `text`, with a CHECK constraint on its length",
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
    fn fires_on_char_types() {
        let found = hits(
            &BanCharType,
            "CREATE TABLE public.t (a char(2), b character(3), c char, d bpchar);",
        );
        assert_eq!(found.len(), 4);
        assert!(found[0].message.contains("`a` of `public.t`"));
        assert!(fires(&BanCharType, "ALTER TABLE t ADD COLUMN e character;"));
    }

    #[test]
    fn quiet_on_text_varchar_and_internal_char() {
        assert!(!fires(
            &BanCharType,
            "CREATE TABLE t (a text, b varchar(3), c \"char\");"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &BanCharType,
            "DO $$ BEGIN ALTER TABLE t ADD COLUMN e char(2); END $$;"
        ));
    }
}
