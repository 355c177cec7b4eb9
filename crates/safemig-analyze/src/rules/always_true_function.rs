//! `always-true-function`: a boolean function replaced by one that always says yes.

use pg_query::NodeEnum;

use super::{function_name, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct AlwaysTrueFunction;

static DOC: RuleDoc = RuleDoc {
    name: "always-true-function",
    severity: Severity::Risky,
    summary: "CREATE OR REPLACE FUNCTION ... RETURNS boolean whose body is just `true`",
    what_it_does: "Finds `CREATE OR REPLACE FUNCTION` returning `boolean` whose body only returns the constant \
                   `true` (`SELECT true`, `RETURN true`), for a function this migration did not create before.",
    why_it_matters: "Boolean helpers are what policies and checks call (`is_admin()`, `can_edit(row)`): replaced by \
                     one that always says yes, every policy that calls it lets everyone through, and no policy \
                     changed on its face.",
    example: "CREATE OR REPLACE FUNCTION public.is_admin() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;",
    use_instead: "Keep the check in the body; to open something up on purpose, change the policy itself, where a \
                  reviewer sees it.",
};

/// The function's body (`AS '...'`), if it is given as one string.
pub(crate) fn body(f: &pg_query::protobuf::CreateFunctionStmt) -> Option<String> {
    f.options.iter().find_map(|o| match o.node.as_ref() {
        Some(NodeEnum::DefElem(d)) if d.defname == "as" => {
            match d.arg.as_deref().and_then(|a| a.node.as_ref()) {
                Some(NodeEnum::List(l)) => l.items.first().and_then(|i| match i.node.as_ref() {
                    Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                    _ => None,
                }),
                Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                _ => None,
            }
        }
        _ => None,
    })
}

fn constant_true(body: &str) -> bool {
    let words: String = body
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ';' && *c != '(' && *c != ')')
        .collect();
    matches!(
        words.as_str(),
        "selecttrue" | "begintrueend" | "beginreturntrueend" | "returntrue" | "select1=1"
    )
}

impl Rule for AlwaysTrueFunction {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::CreateFunctionStmt(f) = ctx.node else {
            return Vec::new();
        };
        let returns_boolean = f.return_type.as_ref().is_some_and(|t| {
            matches!(
                super::type_last_name(t).to_ascii_lowercase().as_str(),
                "bool" | "boolean"
            )
        });
        let name = function_name(&f.funcname);
        if !f.replace || !returns_boolean || !body(f).is_some_and(|b| constant_true(&b)) {
            return Vec::new();
        }
        // Created earlier in this same file: nothing calls it yet.
        if ctx.file.created_functions_before(ctx.index, &name) {
            return Vec::new();
        }
        vec![Hit::new(format!(
            "replaces `{name}()` with a function that always returns true: every policy or check that calls it now \
             lets everyone through"
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn a_replaced_helper_that_always_says_yes_fires() {
        assert!(fires(&AlwaysTrueFunction, "CREATE OR REPLACE FUNCTION public.is_admin() RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT true; $$;"));
        assert!(fires(&AlwaysTrueFunction, "CREATE OR REPLACE FUNCTION public.ok() RETURNS bool LANGUAGE plpgsql AS $$ BEGIN RETURN true; END $$;"));
        assert!(!fires(&AlwaysTrueFunction, "CREATE OR REPLACE FUNCTION public.is_admin() RETURNS boolean LANGUAGE sql AS $$ SELECT auth.jwt() ->> 'role' = 'admin' $$;"));
        assert!(!fires(
            &AlwaysTrueFunction,
            "CREATE FUNCTION public.yes() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;"
        ));
    }
}
