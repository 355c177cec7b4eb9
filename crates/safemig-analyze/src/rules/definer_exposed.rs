//! `definer-exposed`: a SECURITY DEFINER function the API's anonymous callers
//! may run, that reads or writes tables with its owner's rights.

use pg_query::NodeEnum;

use super::{function_name, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DefinerExposed;

static DOC: RuleDoc = RuleDoc {
    name: "definer-exposed",
    severity: Severity::Risky,
    summary: "a SECURITY DEFINER function in an exposed schema, executable by anon, that touches tables",
    what_it_does: "Finds `CREATE [OR REPLACE] FUNCTION ... SECURITY DEFINER` in an exposed schema whose body reads or \
                   writes tables (a `FROM`, `UPDATE`, `DELETE`, `INSERT`), unless the same file revokes `EXECUTE` \
                   from `PUBLIC` (the default grant every new function gets) and does not grant it to `anon`. \
                   Trigger functions, which the API cannot call, are left out.",
    why_it_matters: "A security definer function runs with its owner's rights, past row level security, and the \
                     API publishes every function of an exposed schema as `/rest/v1/rpc/<name>`: with the default \
                     `EXECUTE` for `PUBLIC`, anyone holding the anon key can have it read `auth.users` or delete \
                     any user's rows (Supabase's linter: `anon_security_definer_function_executable`).",
    example: "CREATE FUNCTION public.get_user_email(uid uuid) RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = ''\n  AS $$ SELECT email FROM auth.users WHERE id = uid $$;",
    use_instead: "REVOKE EXECUTE ON FUNCTION public.get_user_email(uuid) FROM PUBLIC, anon;\n\
                  GRANT EXECUTE ON FUNCTION public.get_user_email(uuid) TO authenticated;\n\
                  -- and check auth.uid() in the body; or make it SECURITY INVOKER",
};

/// Whether a body reads or writes tables (a coarse look at its text: a body is
/// PL/pgSQL or SQL, and either way its table access is in these words).
fn touches_tables(body: &str) -> bool {
    let lower = body.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .collect();
    words.iter().any(|w| {
        matches!(
            *w,
            "from" | "update" | "delete" | "insert" | "join" | "truncate" | "merge"
        )
    })
}

impl Rule for DefinerExposed {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::CreateFunctionStmt(f) = ctx.node else {
            return Vec::new();
        };
        let definer = f.options.iter().any(|o| {
            matches!(o.node.as_ref(),
            Some(NodeEnum::DefElem(d)) if d.defname == "security" && super::option_on(d))
        });
        let name = function_name(&f.funcname);
        let trigger = f.return_type.as_ref().is_some_and(|t| {
            matches!(
                super::type_last_name(t).to_ascii_lowercase().as_str(),
                "trigger" | "event_trigger"
            )
        });
        if !definer
            || trigger
            || f.is_procedure
            || !ctx.file.is_exposed(&name)
            || !ctx.file.anon_may_execute(&name)
        {
            return Vec::new();
        }
        if !super::always_true_function::body(f).is_some_and(|b| touches_tables(&b)) {
            return Vec::new();
        }
        vec![Hit::new(format!(
            "`{name}()` runs with its owner's rights, past row level security, and anon may call it through the API \
             (/rest/v1/rpc/{})",
            name.name
        ))
        .help(format!(
            "REVOKE EXECUTE ON FUNCTION {name}(...) FROM PUBLIC, anon; then GRANT it to the roles that need it"
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn callable_definer_functions_over_tables_fire() {
        let f = "CREATE FUNCTION public.get_email(u uuid) RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$ SELECT email FROM auth.users WHERE id = u $$;";
        assert!(fires(&DefinerExposed, f));
        assert!(!fires(
            &DefinerExposed,
            &format!("{f}\nREVOKE EXECUTE ON FUNCTION public.get_email(uuid) FROM PUBLIC, anon;")
        ));
        assert!(fires(&DefinerExposed, &format!("{f}\nREVOKE EXECUTE ON FUNCTION public.get_email(uuid) FROM PUBLIC;\nGRANT EXECUTE ON FUNCTION public.get_email(uuid) TO anon;")));
        assert!(!fires(&DefinerExposed, "CREATE FUNCTION private.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT count(*) FROM public.t $$;"));
        assert!(!fires(&DefinerExposed, "CREATE FUNCTION public.h() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN INSERT INTO public.p VALUES (NEW.id); RETURN NEW; END $$;"));
        assert!(!fires(&DefinerExposed, "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$;"));
    }
}
