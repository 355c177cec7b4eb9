//! `security-definer-without-search-path`: a SECURITY DEFINER function that trusts the caller's search_path.

use pg_query::NodeEnum;

use super::{dotted, option_on, options_named, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct SecurityDefinerWithoutSearchPath;

static DOC: RuleDoc = RuleDoc {
    name: "security-definer-without-search-path",
    severity: Severity::Review,
    summary: "a SECURITY DEFINER function without SET search_path can be hijacked by the caller",
    what_it_does: "Finds `CREATE FUNCTION` or `CREATE PROCEDURE` with `SECURITY DEFINER` and no \
                   `SET search_path` option. Supabase's security advisor reports the same functions \
                   (`function_search_path_mutable`).",
    why_it_matters: "A SECURITY DEFINER function runs with its owner's privileges (on Supabase usually `postgres`, \
                     which owns the tables and so bypasses their row level security), but resolves unqualified \
                     names through the caller's `search_path`. A caller who can create objects in a schema on that \
                     path can put a table, function or operator there with the same name as one the function \
                     uses, and have it run as the owner.",
    example: "CREATE FUNCTION public.handle_new_user() RETURNS trigger\n  LANGUAGE plpgsql SECURITY DEFINER\n  \
              AS $$ BEGIN INSERT INTO profiles (id) VALUES (new.id); RETURN new; END $$;",
    use_instead: "CREATE FUNCTION public.handle_new_user() RETURNS trigger\n  LANGUAGE plpgsql SECURITY DEFINER\n  \
                  SET search_path = ''\n  \
                  AS $$ BEGIN INSERT INTO public.profiles (id) VALUES (new.id); RETURN new; END $$;\n\
                  -- with an empty search_path, qualify every name in the body",
};

impl Rule for SecurityDefinerWithoutSearchPath {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::CreateFunctionStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        let definer = options_named(&stmt.options, "security").any(option_on);
        let sets_search_path = options_named(&stmt.options, "set").any(|d| {
            matches!(d.arg.as_ref().and_then(|a| a.node.as_ref()), Some(NodeEnum::VariableSetStmt(v)) if v.name.eq_ignore_ascii_case("search_path"))
        });
        if !definer || sets_search_path {
            return Vec::new();
        }
        let kind = if stmt.is_procedure {
            "procedure"
        } else {
            "function"
        };
        vec![Hit::new(format!(
            "{kind} `{}` is SECURITY DEFINER without SET search_path: a caller can make it run their objects with \
             its owner's privileges",
            dotted(&stmt.funcname)
        ))
        .help("add SET search_path = '' and qualify every name in the body")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_security_definer_without_search_path() {
        let found = hits(
            &SecurityDefinerWithoutSearchPath,
            "CREATE OR REPLACE FUNCTION public.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'select 1';",
        );
        assert!(found[0].message.contains("function `public.f`"));
        assert!(fires(
            &SecurityDefinerWithoutSearchPath,
            "CREATE PROCEDURE p() LANGUAGE sql SECURITY DEFINER SET statement_timeout = '1s' AS 'select 1';"
        ));
    }

    #[test]
    fn quiet_with_search_path_or_security_invoker() {
        assert!(!fires(
            &SecurityDefinerWithoutSearchPath,
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'select 1';"
        ));
        assert!(!fires(
            &SecurityDefinerWithoutSearchPath,
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path TO public, pg_temp SECURITY DEFINER AS 'select 1';"
        ));
        assert!(!fires(
            &SecurityDefinerWithoutSearchPath,
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS 'select 1';"
        ));
        assert!(!fires(
            &SecurityDefinerWithoutSearchPath,
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY INVOKER AS 'select 1';"
        ));
        assert!(!fires(
            &SecurityDefinerWithoutSearchPath,
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1';"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &SecurityDefinerWithoutSearchPath,
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'f') THEN \
             CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'select 1'; END IF; END $$;"
        ));
    }
}
