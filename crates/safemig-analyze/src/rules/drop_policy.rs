//! `drop-policy`: a row level security policy is dropped.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use super::{dropped_objects, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropPolicy;

static DOC: RuleDoc = RuleDoc {
    name: "drop-policy",
    severity: Severity::Review,
    summary: "DROP POLICY changes who can read or write a table's rows",
    what_it_does: "Finds `DROP POLICY` that is not followed in the same file by a `CREATE POLICY` of the same name \
                   on the same table (the drop-and-recreate idiom).",
    why_it_matters: "With row level security on, a dropped policy takes away the access it granted: the users it \
                     served see nothing (an outage) until another policy grants it. A restrictive policy dropped \
                     widens access instead. Either way, who can see what changes, which a reviewer should look at.",
    example: "DROP POLICY owner_only ON public.docs;",
    use_instead: "Replace it in the same migration, so there is no moment without it:\n\
                  DROP POLICY owner_only ON public.docs;\n\
                  CREATE POLICY owner_only ON public.docs USING (owner = (SELECT auth.uid()));",
};

impl Rule for DropPolicy {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::DropStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        if stmt.remove_type != ObjectType::ObjectPolicy as i32 {
            return Vec::new();
        }
        dropped_objects(stmt)
            .into_iter()
            .filter_map(|parts| {
                let (name, table) = parts.split_last()?;
                let table = table.join(".");
                let recreated = ctx.file.created_policies.iter().any(|(t, n)| {
                    n == name && t.name == table.rsplit('.').next().unwrap_or(&table)
                });
                (!recreated).then(|| {
                    Hit::new(format!(
                        "drops policy `{name}` on `{table}`: who can read or write its rows changes"
                    ))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_a_drop() {
        assert!(fires(&DropPolicy, "DROP POLICY owner_only ON public.docs;"));
    }

    #[test]
    fn quiet_when_replaced_in_the_same_file() {
        assert!(!fires(
            &DropPolicy,
            "DROP POLICY IF EXISTS owner_only ON public.docs; CREATE POLICY owner_only ON public.docs USING (true);"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DropPolicy,
            "DO $$ BEGIN DROP POLICY p ON public.docs; END $$;"
        ));
    }
}
