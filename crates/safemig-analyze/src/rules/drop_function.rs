//! `drop-function`: a function or procedure is dropped and not re-created.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use super::{dotted, function_name, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropFunction;

static DOC: RuleDoc = RuleDoc {
    name: "drop-function",
    severity: Severity::Review,
    summary: "DROP FUNCTION removes a function that triggers, policies or the application may still call",
    what_it_does: "Finds `DROP FUNCTION`, `DROP PROCEDURE` and `DROP ROUTINE` of a function that the same file does \
                   not create again (dropping and re-creating a function to change its signature is fine).",
    why_it_matters: "Whatever calls the function fails from then on: triggers that execute it, RLS policies and \
                     column defaults that use it (unless CASCADE silently dropped those too), RPC calls through \
                     the Supabase API, and application code. Nothing checks callers inside other functions' \
                     bodies, so those break only when they run.",
    example: "DROP FUNCTION public.handle_new_user();",
    use_instead: "Drop the trigger, policy or API call that uses the function first, deploy that, and drop the \
                  function in a later migration; or re-create it in the same migration with \
                  `CREATE OR REPLACE FUNCTION`.",
};

impl Rule for DropFunction {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::DropStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        let kind = match ObjectType::try_from(stmt.remove_type) {
            Ok(ObjectType::ObjectFunction) => "function",
            Ok(ObjectType::ObjectProcedure) => "procedure",
            Ok(ObjectType::ObjectRoutine) => "routine",
            _ => return Vec::new(),
        };
        stmt.objects
            .iter()
            .filter_map(|o| match o.node.as_ref() {
                Some(NodeEnum::ObjectWithArgs(f)) => Some(f),
                _ => None,
            })
            .filter(|f| !ctx.file.creates_function(&function_name(&f.objname)))
            .map(|f| {
                Hit::new(format!(
                    "drops {kind} `{}`: whatever still calls it fails",
                    dotted(&f.objname)
                ))
                .help("remove its callers first, or re-create it in this migration")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_drop_function_and_procedure() {
        let found = hits(&DropFunction, "DROP FUNCTION IF EXISTS public.f(int), g;");
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("function `public.f`"));
        assert!(hits(&DropFunction, "DROP PROCEDURE p;")[0]
            .message
            .contains("procedure `p`"));
    }

    #[test]
    fn quiet_when_the_file_creates_it_again() {
        assert!(!fires(
            &DropFunction,
            "DROP FUNCTION IF EXISTS public.f(int);\nCREATE FUNCTION f(bigint) RETURNS int LANGUAGE sql AS 'select 1';"
        ));
        assert!(fires(
            &DropFunction,
            "DROP FUNCTION s.f();\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1';"
        ));
    }

    #[test]
    fn quiet_on_other_drops() {
        assert!(!fires(&DropFunction, "DROP TABLE f; DROP TRIGGER f ON t;"));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DropFunction,
            "DO $$ BEGIN DROP FUNCTION f(); END $$;"
        ));
    }
}
