//! `add-unique-constraint`: a unique index built while the table is locked.

use pg_query::protobuf::{AlterTableType, ConstrType};

use super::{
    alter_table_cmds, cmd_type, column_constraints, column_def, constr_type, constraint_def, Ctx,
    Hit, Rule, RuleDoc, Severity,
};

pub struct AddUniqueConstraint;

static DOC: RuleDoc = RuleDoc {
    name: "add-unique-constraint",
    severity: Severity::Review,
    summary: "ADD CONSTRAINT ... UNIQUE or PRIMARY KEY builds its index while reads and writes wait",
    what_it_does: "Finds `ALTER TABLE ... ADD CONSTRAINT ... UNIQUE` or `PRIMARY KEY` without `USING INDEX`, and \
                   `ADD COLUMN ... UNIQUE` or `PRIMARY KEY`, on a table that this migration did not create.",
    why_it_matters: "PostgreSQL builds the constraint's unique index while it holds an ACCESS EXCLUSIVE lock on \
                     the table: nothing can read or write it until the whole table is read and sorted. If a \
                     duplicate exists, the statement fails after all that. An index built beforehand with \
                     `CREATE UNIQUE INDEX CONCURRENTLY` can be turned into the constraint instantly.",
    example: "ALTER TABLE public.profiles ADD CONSTRAINT profiles_username_key UNIQUE (username);",
    use_instead: "CREATE UNIQUE INDEX CONCURRENTLY profiles_username_key ON public.profiles (username);\n\
                  -- in a migration of its own; then:\n\
                  ALTER TABLE public.profiles ADD CONSTRAINT profiles_username_key UNIQUE USING INDEX \
                  profiles_username_key;",
};

fn kind(c: &pg_query::protobuf::Constraint) -> Option<&'static str> {
    match constr_type(c) {
        ConstrType::ConstrUnique => Some("UNIQUE"),
        ConstrType::ConstrPrimary => Some("PRIMARY KEY"),
        _ => None,
    }
}

impl Rule for AddUniqueConstraint {
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
                    let Some(kind) = kind(c) else { continue };
                    if !c.indexname.is_empty() {
                        continue;
                    }
                    let name = if c.conname.is_empty() {
                        String::new()
                    } else {
                        format!(" `{}`", c.conname)
                    };
                    hits.push(
                        Hit::new(format!(
                            "adds {kind} constraint{name} to `{table}`: its index is built while reads and writes wait"
                        ))
                        .help("CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... USING INDEX"),
                    );
                }
                AlterTableType::AtAddColumn => {
                    let Some(def) = column_def(cmd) else { continue };
                    if let Some(kind) = column_constraints(def).find_map(kind) {
                        hits.push(
                            Hit::new(format!(
                                "adds column `{}` to `{table}` as {kind}: its index is built while reads and writes wait",
                                def.colname
                            ))
                            .help("add the column, CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX"),
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
    fn fires_on_unique_and_primary_key() {
        assert!(hits(
            &AddUniqueConstraint,
            "ALTER TABLE public.t ADD CONSTRAINT k UNIQUE (a);"
        )[0]
        .message
        .contains("UNIQUE constraint `k` to `public.t`"));
        assert!(fires(
            &AddUniqueConstraint,
            "ALTER TABLE t ADD PRIMARY KEY (id);"
        ));
        assert!(fires(
            &AddUniqueConstraint,
            "ALTER TABLE t ADD COLUMN code text UNIQUE;"
        ));
    }

    #[test]
    fn quiet_with_using_index_or_on_a_table_created_in_the_file() {
        assert!(!fires(
            &AddUniqueConstraint,
            "ALTER TABLE t ADD CONSTRAINT k UNIQUE USING INDEX k_idx;"
        ));
        assert!(!fires(
            &AddUniqueConstraint,
            "ALTER TABLE t ADD CONSTRAINT pk PRIMARY KEY USING INDEX pk_idx;"
        ));
        assert!(!fires(
            &AddUniqueConstraint,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT k UNIQUE (a);"
        ));
        assert!(!fires(
            &AddUniqueConstraint,
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &AddUniqueConstraint,
            "DO $$ BEGIN ALTER TABLE t ADD CONSTRAINT k UNIQUE (a); END $$;"
        ));
    }
}
