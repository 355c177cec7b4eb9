//! `merge-or-upsert-overwrites`: `MERGE ... WHEN MATCHED THEN UPDATE/DELETE` and
//! `INSERT ... ON CONFLICT DO UPDATE` on an existing table.

use pg_query::protobuf::{CmdType, OnConflictAction};
use pg_query::{NodeEnum, NodeRef};

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct MergeOrUpsertOverwrites;

static DOC: RuleDoc = RuleDoc {
    name: "merge-or-upsert-overwrites",
    severity: Severity::Risky,
    summary: "MERGE that updates or deletes matched rows, or INSERT ... ON CONFLICT DO UPDATE, on an existing table",
    what_it_does: "Finds `MERGE` with a `WHEN MATCHED THEN UPDATE` or `DELETE` action, and `INSERT ... ON CONFLICT \
                   ... DO UPDATE`, on a table this migration did not create.",
    why_it_matters: "They read as inserts, but every row that matches is overwritten (or deleted) with what the \
                     statement brings: existing values are replaced and cannot be read back after the commit.",
    example: "INSERT INTO public.profiles (id, username) VALUES ($1, 'admin')\n  ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username;",
    use_instead: "ON CONFLICT DO NOTHING to add only what is missing; or keep the old values (a history table) \
                  before overwriting them.",
};

impl Rule for MergeOrUpsertOverwrites {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (node, ..) in ctx.node.nodes() {
            match node {
                NodeRef::MergeStmt(m) => {
                    let Some(table) = m.relation.as_ref().map(qualified) else {
                        continue;
                    };
                    if ctx.file.created_here(&table) {
                        continue;
                    }
                    let overwrites = m.merge_when_clauses.iter().any(|w| match w.node.as_ref() {
                        Some(NodeEnum::MergeWhenClause(c)) => {
                            c.command_type == CmdType::CmdUpdate as i32
                                || c.command_type == CmdType::CmdDelete as i32
                        }
                        _ => false,
                    });
                    if overwrites {
                        hits.push(Hit::new(format!(
                            "MERGE into `{table}` updates or deletes the rows it matches: their old values are gone"
                        )));
                    }
                }
                NodeRef::InsertStmt(i) => {
                    let Some(table) = i.relation.as_ref().map(qualified) else {
                        continue;
                    };
                    let updates = i
                        .on_conflict_clause
                        .as_ref()
                        .is_some_and(|c| c.action == OnConflictAction::OnconflictUpdate as i32);
                    if updates && !ctx.file.created_here(&table) {
                        hits.push(Hit::new(format!(
                            "INSERT ... ON CONFLICT DO UPDATE on `{table}` overwrites the rows that already exist"
                        ))
                        .help("ON CONFLICT DO NOTHING adds only what is missing"));
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
    use crate::rules::testing::fires;

    #[test]
    fn overwriting_merges_and_upserts_fire() {
        assert!(fires(
            &MergeOrUpsertOverwrites,
            "MERGE INTO public.p t USING s ON t.k = s.k WHEN MATCHED THEN UPDATE SET v = s.v;"
        ));
        assert!(fires(&MergeOrUpsertOverwrites, "INSERT INTO public.p (id, v) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v;"));
        assert!(!fires(
            &MergeOrUpsertOverwrites,
            "INSERT INTO public.p (id, v) VALUES (1, 2) ON CONFLICT (id) DO NOTHING;"
        ));
        assert!(!fires(
            &MergeOrUpsertOverwrites,
            "MERGE INTO public.p t USING s ON t.k = s.k WHEN NOT MATCHED THEN INSERT VALUES (s.k);"
        ));
    }
}
