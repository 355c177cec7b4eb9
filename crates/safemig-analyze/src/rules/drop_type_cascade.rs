//! `drop-type-cascade`: a type, domain or extension dropped with `CASCADE`.

use pg_query::protobuf::{DropBehavior, ObjectType};
use pg_query::NodeEnum;

use super::{dropped_objects, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropTypeCascade;

static DOC: RuleDoc = RuleDoc {
    name: "drop-type-cascade",
    severity: Severity::Risky,
    summary: "DROP TYPE/DOMAIN/EXTENSION ... CASCADE drops every column of that type, with its values",
    what_it_does: "Finds `DROP TYPE`, `DROP DOMAIN`, `DROP EXTENSION` and `DROP COLLATION` with `CASCADE`.",
    why_it_matters: "CASCADE drops what depends on the object: every column of an enum, composite type or domain \
                     (with all its values), every column of a type an extension provides (`citext`, `vector`, \
                     `geometry`), functions, views and policies that use them. The statement reads as a small \
                     cleanup and erases data in tables it never names.",
    example: "DROP TYPE public.mood CASCADE;",
    use_instead: "Drop without CASCADE, so PostgreSQL refuses while anything still uses it; migrate those columns \
                  to another type first:\n\
                  ALTER TABLE public.entries ALTER COLUMN mood TYPE text;\n\
                  DROP TYPE public.mood;",
};

impl Rule for DropTypeCascade {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::DropStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        let kind = match ObjectType::try_from(stmt.remove_type) {
            Ok(ObjectType::ObjectType) => "type",
            Ok(ObjectType::ObjectDomain) => "domain",
            Ok(ObjectType::ObjectExtension) => "extension",
            Ok(ObjectType::ObjectCollation) => "collation",
            _ => return Vec::new(),
        };
        if stmt.behavior != DropBehavior::DropCascade as i32 {
            return Vec::new();
        }
        dropped_objects(stmt)
            .into_iter()
            .map(|p| p.join("."))
            .into_iter()
            .map(|name| {
                Hit::new(format!(
                    "drops {kind} `{name}` with CASCADE: every column of it goes too, with its values"
                ))
                .help("drop it without CASCADE after moving the columns that use it to another type")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_cascade_drops_of_types_domains_extensions() {
        assert!(hits(&DropTypeCascade, "DROP TYPE public.mood CASCADE;")[0]
            .message
            .contains("`public.mood`"));
        assert!(fires(
            &DropTypeCascade,
            "DROP DOMAIN public.email_d CASCADE;"
        ));
        assert!(hits(&DropTypeCascade, "DROP EXTENSION citext CASCADE;")[0]
            .message
            .contains("`citext`"));
    }

    #[test]
    fn quiet_without_cascade() {
        assert!(!fires(
            &DropTypeCascade,
            "DROP TYPE public.mood; DROP EXTENSION IF EXISTS citext;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DropTypeCascade,
            "DO $$ BEGIN DROP TYPE public.mood CASCADE; END $$;"
        ));
    }
}
