//! `add-foreign-key`: a foreign key validated while both tables are locked.

use pg_query::protobuf::{AlterTableType, ConstrType};

use super::{
    alter_table_cmds, cmd_type, column_constraints, column_def, constr_type, constraint_def,
    qualified, Ctx, Hit, Rule, RuleDoc, Severity,
};

pub struct AddForeignKey;

static DOC: RuleDoc = RuleDoc {
    name: "add-foreign-key",
    severity: Severity::Review,
    summary: "adding a foreign key without NOT VALID blocks writes to both tables while every row is checked",
    what_it_does: "Finds `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY` without `NOT VALID`, and \
                   `ALTER TABLE ... ADD COLUMN ... REFERENCES`, on a table that this migration did not create.",
    why_it_matters: "PostgreSQL takes a SHARE ROW EXCLUSIVE lock on both the table and the table it references, \
                     then checks every existing row against the referenced table before it lets go: INSERT, \
                     UPDATE and DELETE on both tables wait for the whole scan (and `ADD COLUMN` holds an ACCESS \
                     EXCLUSIVE lock on the table, blocking reads too). With `NOT VALID` the constraint is added \
                     at once and enforced for new rows; `VALIDATE CONSTRAINT` checks the old ones later without \
                     blocking writes.",
    example: "ALTER TABLE public.orders ADD CONSTRAINT orders_customer_fk\n  FOREIGN KEY (customer_id) REFERENCES \
              public.customers (id);",
    use_instead: "ALTER TABLE public.orders ADD CONSTRAINT orders_customer_fk\n  FOREIGN KEY (customer_id) \
                  REFERENCES public.customers (id) NOT VALID;\n\
                  ALTER TABLE public.orders VALIDATE CONSTRAINT orders_customer_fk;",
};

impl Rule for AddForeignKey {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (table, cmd) in alter_table_cmds(ctx.node) {
            if ctx.file.created_here(&table) {
                continue;
            }
            match cmd_type(cmd) {
                AlterTableType::AtAddConstraint => {
                    let Some(c) = constraint_def(cmd) else {
                        continue;
                    };
                    if constr_type(c) != ConstrType::ConstrForeign || c.skip_validation {
                        continue;
                    }
                    let name = if c.conname.is_empty() {
                        String::new()
                    } else {
                        format!(" `{}`", c.conname)
                    };
                    let target = c
                        .pktable
                        .as_ref()
                        .map(qualified)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    hits.push(
                        Hit::new(format!(
                            "adds foreign key{name} from `{table}` to `{target}` without NOT VALID: writes to both \
                             tables wait while every row is checked"
                        ))
                        .help("add it NOT VALID, then VALIDATE CONSTRAINT in a separate statement"),
                    );
                }
                AlterTableType::AtAddColumn => {
                    let Some(def) = column_def(cmd) else { continue };
                    for c in column_constraints(def)
                        .filter(|c| constr_type(c) == ConstrType::ConstrForeign)
                    {
                        let target = c
                            .pktable
                            .as_ref()
                            .map(qualified)
                            .map(|t| t.to_string())
                            .unwrap_or_default();
                        hits.push(
                            Hit::new(format!(
                                "adds column `{}` to `{table}` with a foreign key to `{target}`: both tables are \
                                 locked while it is checked",
                                def.colname
                            ))
                            .help("add the column alone, then the foreign key NOT VALID, then VALIDATE CONSTRAINT"),
                        );
                    }
                }
                _ => {}
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_without_not_valid() {
        let found = hits(
            &AddForeignKey,
            "ALTER TABLE public.o ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES public.c (id);",
        );
        assert!(found[0]
            .message
            .contains("`fk` from `public.o` to `public.c`"));
        assert!(hits(
            &AddForeignKey,
            "ALTER TABLE o ADD COLUMN c bigint REFERENCES c (id);"
        )[0]
        .message
        .contains("column `c` to `o`"));
    }

    #[test]
    fn quiet_with_not_valid_or_on_a_table_created_in_the_file() {
        assert!(!fires(
            &AddForeignKey,
            "ALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES c (id) NOT VALID;"
        ));
        assert!(!fires(
            &AddForeignKey,
            "CREATE TABLE o (c int);\nALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES c (id);"
        ));
        assert!(!fires(
            &AddForeignKey,
            "ALTER TABLE o ADD COLUMN c bigint, ADD CONSTRAINT k CHECK (c > 0);"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &AddForeignKey,
            "DO $$ BEGIN ALTER TABLE o ADD FOREIGN KEY (c) REFERENCES c (id); END $$;"
        ));
    }
}
