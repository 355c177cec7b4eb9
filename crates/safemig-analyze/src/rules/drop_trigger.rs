//! `drop-trigger`: a trigger is dropped and not re-created.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use super::{dropped_objects, Ctx, Hit, Rule, RuleDoc, Severity};
use crate::parse::QualifiedName;

pub struct DropTrigger;

static DOC: RuleDoc = RuleDoc {
    name: "drop-trigger",
    severity: Severity::Review,
    summary: "DROP TRIGGER stops something that happened on every write",
    what_it_does: "Finds `DROP TRIGGER` of a trigger that the same file does not create again (the \
                   `DROP TRIGGER IF EXISTS x ON t; CREATE TRIGGER x ...` idiom for replacing a trigger is fine).",
    why_it_matters: "Whatever the trigger did (keep `updated_at` current, create a profile row for each new \
                     `auth.users` row, write an audit log) silently stops. Nothing fails, so nobody notices until \
                     the data is missing. DROP TRIGGER also takes an ACCESS EXCLUSIVE lock on the table.",
    example: "DROP TRIGGER on_auth_user_created ON auth.users;",
    use_instead: "DROP TRIGGER IF EXISTS on_auth_user_created ON auth.users;\n\
                  CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users\n  \
                  FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();\n\
                  -- or, on PostgreSQL 14+: CREATE OR REPLACE TRIGGER ...",
};

impl Rule for DropTrigger {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::DropStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        if stmt.remove_type != ObjectType::ObjectTrigger as i32 {
            return Vec::new();
        }
        dropped_objects(stmt)
            .into_iter()
            .filter_map(|parts| {
                let (trigger, table) = match parts.as_slice() {
                    [schema, table, trigger] => (
                        trigger,
                        QualifiedName {
                            schema: schema.clone(),
                            name: table.clone(),
                        },
                    ),
                    [table, trigger] => (
                        trigger,
                        QualifiedName {
                            schema: String::new(),
                            name: table.clone(),
                        },
                    ),
                    _ => return None,
                };
                if ctx.file.creates_trigger(&table, trigger) {
                    return None;
                }
                Some(
                    Hit::new(format!(
                        "drops trigger `{trigger}` on `{table}`: what it did on every write stops"
                    ))
                    .help("re-create it in this migration if it is being replaced"),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_drop_trigger() {
        assert!(
            hits(&DropTrigger, "DROP TRIGGER IF EXISTS trg ON auth.users;")[0]
                .message
                .contains("`trg` on `auth.users`")
        );
    }

    #[test]
    fn quiet_when_the_file_creates_it_again() {
        assert!(!fires(
            &DropTrigger,
            "DROP TRIGGER IF EXISTS trg ON public.t;\nCREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();"
        ));
        assert!(fires(
            &DropTrigger,
            "DROP TRIGGER trg ON other.t;\nCREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();"
        ));
    }

    #[test]
    fn quiet_on_other_drops() {
        assert!(!fires(
            &DropTrigger,
            "DROP FUNCTION trg(); DROP POLICY p ON t;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DropTrigger,
            "DO $$ BEGIN DROP TRIGGER trg ON t; END $$;"
        ));
    }
}
