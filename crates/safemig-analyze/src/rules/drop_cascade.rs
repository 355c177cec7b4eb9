//! `drop-cascade`: a function, sequence or view dropped with `CASCADE`.

use pg_query::protobuf::{DropBehavior, ObjectType};
use pg_query::NodeEnum;

use super::{dotted, dropped_objects, function_name, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropCascade;

static DOC: RuleDoc = RuleDoc {
    name: "drop-cascade",
    severity: Severity::Risky,
    summary: "DROP FUNCTION/SEQUENCE/VIEW ... CASCADE takes along what depends on it",
    what_it_does: "Finds `DROP FUNCTION`, `PROCEDURE`, `SEQUENCE`, `VIEW`, `MATERIALIZED VIEW`, `AGGREGATE`, \
                   `OPERATOR` and `TEXT SEARCH` objects with `CASCADE`, of objects this migration did not create. \
                   (Tables, schemas and types have rules of their own.)",
    why_it_matters: "CASCADE drops whatever depends on the object, without naming it: the policies that call a \
                     function (a restrictive policy gone opens rows), the defaults and generated columns that use \
                     it (a generated column's values go with it), the columns whose default is a sequence, the \
                     views built on a view.",
    example: "DROP FUNCTION public.is_admin() CASCADE;",
    use_instead: "Drop without CASCADE: PostgreSQL then names what still depends on it, and you drop or change \
                  those first, on purpose.",
};

impl Rule for DropCascade {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::DropStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        if stmt.behavior != DropBehavior::DropCascade as i32 {
            return Vec::new();
        }
        let kind = match ObjectType::try_from(stmt.remove_type) {
            Ok(ObjectType::ObjectFunction) => "function",
            Ok(ObjectType::ObjectProcedure) => "procedure",
            Ok(ObjectType::ObjectRoutine) => "routine",
            Ok(ObjectType::ObjectAggregate) => "aggregate",
            Ok(ObjectType::ObjectSequence) => "sequence",
            Ok(ObjectType::ObjectView) => "view",
            Ok(ObjectType::ObjectMatview) => "materialized view",
            Ok(ObjectType::ObjectOperator) => "operator",
            Ok(ObjectType::ObjectTsconfiguration | ObjectType::ObjectTsdictionary) => {
                "text search object"
            }
            _ => return Vec::new(),
        };
        let names: Vec<String> = match ObjectType::try_from(stmt.remove_type) {
            Ok(
                ObjectType::ObjectFunction
                | ObjectType::ObjectProcedure
                | ObjectType::ObjectRoutine
                | ObjectType::ObjectAggregate,
            ) => stmt
                .objects
                .iter()
                .filter_map(|o| match o.node.as_ref() {
                    Some(NodeEnum::ObjectWithArgs(f))
                        if !ctx.file.creates_function(&function_name(&f.objname)) =>
                    {
                        Some(dotted(&f.objname))
                    }
                    _ => None,
                })
                .collect(),
            _ => dropped_objects(stmt)
                .into_iter()
                .map(|p| p.join("."))
                .collect(),
        };
        names
            .into_iter()
            .map(|name| {
                Hit::new(format!(
                    "drops {kind} `{name}` with CASCADE: the policies, defaults, columns and views that depend on \
                     it go too, unnamed"
                ))
                .help("drop it without CASCADE, so PostgreSQL names what still depends on it")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn cascade_drops_of_existing_objects_fire() {
        assert!(fires(
            &DropCascade,
            "DROP FUNCTION public.is_admin() CASCADE;"
        ));
        assert!(fires(&DropCascade, "DROP SEQUENCE public.s CASCADE;"));
        assert!(!fires(&DropCascade, "DROP FUNCTION public.is_admin();"));
        assert!(!fires(&DropCascade, "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'; DROP FUNCTION public.f() CASCADE;"));
    }
}
