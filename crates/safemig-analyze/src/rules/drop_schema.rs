//! `drop-schema`: a schema is dropped.

use pg_query::protobuf::{DropBehavior, ObjectType};
use pg_query::NodeEnum;

use super::{dropped_objects, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropSchema;

static DOC: RuleDoc = RuleDoc {
    name: "drop-schema",
    severity: Severity::Risky,
    summary: "DROP SCHEMA deletes a schema, and with CASCADE everything in it",
    what_it_does: "Finds `DROP SCHEMA` (with or without `IF EXISTS`).",
    why_it_matters: "With CASCADE, every table (and every row in it), view, function, type and sequence in the \
                     schema is dropped in one statement, along with objects elsewhere that depend on them. \
                     Without CASCADE the statement fails unless the schema is already empty, which usually means \
                     the migration was written for a different database than the one it runs on.",
    example: "DROP SCHEMA IF EXISTS reporting CASCADE;",
    use_instead: "Drop the objects you mean to drop one by one, so the migration says what it deletes; or rename \
                  the schema (`ALTER SCHEMA reporting RENAME TO reporting_retired;`) and drop it later.",
};

impl Rule for DropSchema {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::DropStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        if stmt.remove_type != ObjectType::ObjectSchema as i32 {
            return Vec::new();
        }
        let cascade = stmt.behavior == DropBehavior::DropCascade as i32;
        // Without CASCADE it fails unless the schema is empty: nothing is lost
        // (not-known-safe asks for a look).
        if !cascade {
            return Vec::new();
        }
        dropped_objects(stmt)
            .into_iter()
            .map(|parts| {
                let schema = parts.join(".");
                if cascade {
                    Hit::new(format!(
                        "drops schema `{schema}` with CASCADE: every table, row, function and type in it goes too"
                    ))
                } else {
                    Hit::new(format!("drops schema `{schema}` (fails unless it is empty)"))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_drop_schema_guarded_or_not() {
        let found = hits(&DropSchema, "DROP SCHEMA IF EXISTS a, b CASCADE;");
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("CASCADE"));
        // Without CASCADE it fails unless the schema is empty: nothing to lose.
        assert!(hits(&DropSchema, "DROP SCHEMA a;").is_empty());
    }

    #[test]
    fn quiet_on_other_drops() {
        assert!(!fires(
            &DropSchema,
            "DROP TABLE a; DROP EXTENSION e; CREATE SCHEMA s;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DropSchema,
            "DO $$ BEGIN DROP SCHEMA s CASCADE; END $$;"
        ));
    }
}
