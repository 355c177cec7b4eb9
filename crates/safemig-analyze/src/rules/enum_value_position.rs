//! `enum-value-position`: an enum value added `BEFORE` or `AFTER` another.

use pg_query::NodeEnum;

use super::{Ctx, Hit, Rule, RuleDoc, Severity};

pub struct EnumValuePosition;

static DOC: RuleDoc = RuleDoc {
    name: "enum-value-position",
    severity: Severity::Hint,
    summary: "ALTER TYPE ... ADD VALUE ... BEFORE/AFTER changes what comparisons of the enum mean",
    what_it_does: "Finds `ALTER TYPE ... ADD VALUE` with `BEFORE` or `AFTER`.",
    why_it_matters: "An enum sorts in the order of its values: a value slotted in between changes the result of \
                     every `ORDER BY`, `<`, `>` and `BETWEEN` on the type (`status < 'shipped'` now takes the new \
                     value in or out), and comparisons with a value added out of order are slower. Added in the \
                     migration's transaction, the value cannot be used until it commits.",
    example: "ALTER TYPE public.order_status ADD VALUE 'packed' BEFORE 'shipped';",
    use_instead: "Add it at the end (`ADD VALUE 'packed'`) unless the order is what the change is about, and check \
                  the queries that compare the type.",
};

impl Rule for EnumValuePosition {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::AlterEnumStmt(e) = ctx.node else {
            return Vec::new();
        };
        if e.new_val_neighbor.is_empty() {
            return Vec::new();
        }
        vec![Hit::new(format!(
            "adds `{}` {} `{}`: every comparison and ORDER BY of the type now places it there",
            e.new_val,
            if e.new_val_is_after {
                "after"
            } else {
                "before"
            },
            e.new_val_neighbor
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn positioned_values_fire() {
        assert!(fires(
            &EnumValuePosition,
            "ALTER TYPE public.s ADD VALUE 'packed' BEFORE 'shipped';"
        ));
        assert!(!fires(
            &EnumValuePosition,
            "ALTER TYPE public.s ADD VALUE 'packed';"
        ));
    }
}
