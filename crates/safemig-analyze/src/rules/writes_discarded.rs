//! `writes-discarded`: inserts or updates silently thrown away by a trigger that
//! returns NULL or a rule that does nothing instead.

use pg_query::NodeEnum;

use super::{function_name, qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct WritesDiscarded;

static DOC: RuleDoc = RuleDoc {
    name: "writes-discarded",
    severity: Severity::Risky,
    summary: "a BEFORE INSERT/UPDATE trigger whose function returns NULL, or a rule DO INSTEAD NOTHING on INSERT/UPDATE",
    what_it_does: "Finds `CREATE TRIGGER ... BEFORE INSERT` or `UPDATE ... FOR EACH ROW` whose function, created in \
                   the same file, only ever returns `NULL`, and `CREATE RULE ... ON INSERT` or `ON UPDATE ... DO \
                   INSTEAD NOTHING`.",
    why_it_matters: "A row-level BEFORE trigger that returns NULL cancels the write for that row, without an error: \
                     the application sees success and the data is never stored. A BEFORE INSERT trigger on \
                     `auth.users` that does this drops every sign-up. A `DO INSTEAD NOTHING` rule does the same for \
                     the whole table.",
    example: "CREATE TRIGGER orders_skip BEFORE INSERT ON public.orders FOR EACH ROW EXECUTE FUNCTION public.skip();",
    use_instead: "Return NEW from a BEFORE INSERT/UPDATE trigger (return NULL only to skip a row on purpose, with a \
                  condition), or run it AFTER the write.",
};

impl Rule for WritesDiscarded {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        match ctx.node {
            NodeEnum::CreateTrigStmt(t) => {
                // tgtype bits: 1 row, 2 before, 4 insert, 16 update.
                let before_row = t.row && t.timing & 2 != 0;
                let writes = t.events & (4 | 16) != 0;
                let function = function_name(&t.funcname);
                if !before_row
                    || !writes
                    || !ctx.file.null_returning_functions.iter().any(|f| {
                        f.name == function.name
                            && super::effective_schema(f) == super::effective_schema(&function)
                    })
                {
                    return Vec::new();
                }
                let table = t
                    .relation
                    .as_ref()
                    .map(qualified)
                    .map(|q| q.to_string())
                    .unwrap_or_default();
                vec![Hit::new(format!(
                    "trigger `{}` runs `{function}()` before each insert or update of `{table}`, and it returns NULL: \
                     every such write is silently thrown away",
                    t.trigname
                ))]
            }
            NodeEnum::RuleStmt(r) => {
                use pg_query::protobuf::CmdType;
                let writes =
                    r.event == CmdType::CmdInsert as i32 || r.event == CmdType::CmdUpdate as i32;
                if !(r.instead && r.actions.is_empty() && writes) {
                    return Vec::new();
                }
                let table = r
                    .relation
                    .as_ref()
                    .map(qualified)
                    .map(|q| q.to_string())
                    .unwrap_or_default();
                vec![Hit::new(format!(
                    "rule `{}` makes every {} on `{table}` do nothing instead: the writes are silently lost",
                    r.rulename,
                    if r.event == CmdType::CmdInsert as i32 { "insert" } else { "update" }
                ))]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn null_returning_before_triggers_and_instead_nothing_rules_fire() {
        let f = "CREATE FUNCTION public.skip() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;\n";
        assert!(fires(&WritesDiscarded, &format!("{f}CREATE TRIGGER s BEFORE INSERT ON public.o FOR EACH ROW EXECUTE FUNCTION public.skip();")));
        assert!(!fires(&WritesDiscarded, &format!("{f}CREATE TRIGGER s BEFORE DELETE ON public.o FOR EACH ROW EXECUTE FUNCTION public.skip();")));
        assert!(!fires(&WritesDiscarded, &format!("{f}CREATE TRIGGER s AFTER INSERT ON public.o FOR EACH ROW EXECUTE FUNCTION public.skip();")));
        assert!(fires(
            &WritesDiscarded,
            "CREATE RULE r AS ON UPDATE TO public.o DO INSTEAD NOTHING;"
        ));
        assert!(!fires(
            &WritesDiscarded,
            "CREATE RULE r AS ON DELETE TO public.o DO INSTEAD NOTHING;"
        ));
    }
}
