//! `sequence-reset`: a sequence or identity of an existing table set back.

use pg_query::protobuf::{AlterTableType, FuncCall};
use pg_query::{NodeEnum, NodeRef};

use super::{alter_table_cmds, cmd_type, function_name, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct SequenceReset;

static DOC: RuleDoc = RuleDoc {
    name: "sequence-reset",
    severity: Severity::Risky,
    summary: "setval to a constant, ALTER SEQUENCE ... RESTART, an identity restarted or added to a filled column",
    what_it_does: "Finds `setval(seq, <constant>)`, `ALTER SEQUENCE ... RESTART`, `ALTER TABLE ... ALTER COLUMN ... \
                   RESTART` and `ADD GENERATED ... AS IDENTITY` (without `START WITH`) on sequences and tables this \
                   migration did not create.",
    why_it_matters: "A sequence set back hands out keys that rows already have: every insert that relies on the \
                     default then fails with a duplicate key, or worse, a number (an invoice number) is issued \
                     twice. A rollback does not undo a sequence change either.",
    example: "ALTER SEQUENCE public.orders_id_seq RESTART;",
    use_instead: "SELECT setval('public.orders_id_seq', (SELECT max(id) FROM public.orders));",
};

/// The sequence a `setval` call sets, as written: `'public.orders_id_seq'` or
/// `pg_get_serial_sequence('public.orders', 'id')` (then the table's name).
fn setval_target(f: &FuncCall) -> Option<(String, bool)> {
    match f.args.first().and_then(|a| a.node.as_ref()) {
        Some(NodeEnum::AConst(c)) => match c.val.as_ref() {
            Some(pg_query::protobuf::a_const::Val::Sval(s)) => Some((s.sval.clone(), false)),
            _ => None,
        },
        Some(NodeEnum::TypeCast(t)) => match t.arg.as_deref().and_then(|a| a.node.as_ref()) {
            Some(NodeEnum::AConst(c)) => match c.val.as_ref() {
                Some(pg_query::protobuf::a_const::Val::Sval(s)) => Some((s.sval.clone(), false)),
                _ => None,
            },
            _ => None,
        },
        Some(NodeEnum::FuncCall(inner))
            if function_name(&inner.funcname)
                .name
                .eq_ignore_ascii_case("pg_get_serial_sequence") =>
        {
            match inner.args.first().and_then(|a| a.node.as_ref()) {
                Some(NodeEnum::AConst(c)) => match c.val.as_ref() {
                    Some(pg_query::protobuf::a_const::Val::Sval(s)) => Some((s.sval.clone(), true)),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

fn name_of(text: &str) -> crate::parse::QualifiedName {
    match text.rsplit_once('.') {
        Some((schema, name)) => crate::parse::QualifiedName {
            schema: schema.trim_matches('"').into(),
            name: name.trim_matches('"').into(),
        },
        None => crate::parse::QualifiedName {
            schema: String::new(),
            name: text.trim_matches('"').into(),
        },
    }
}

/// Whether this `setval` sets a sequence this file made (itself, or of a table it made).
pub(crate) fn targets_new(ctx: &Ctx<'_>, f: &FuncCall) -> bool {
    match setval_target(f) {
        Some((name, true)) => ctx.file.created_here(&name_of(&name)),
        Some((name, false)) => ctx.file.creates_sequence(&name_of(&name)),
        None => false,
    }
}

fn is_constant(node: Option<&pg_query::protobuf::Node>) -> bool {
    match node.and_then(|n| n.node.as_ref()) {
        Some(NodeEnum::AConst(_)) => true,
        Some(NodeEnum::TypeCast(t)) => is_constant(t.arg.as_deref()),
        _ => false,
    }
}

impl Rule for SequenceReset {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (node, ..) in ctx.node.nodes() {
            let NodeRef::FuncCall(f) = node else { continue };
            let name = function_name(&f.funcname);
            if !name.name.eq_ignore_ascii_case("setval")
                || targets_new(ctx, f)
                || !is_constant(f.args.get(1))
            {
                continue;
            }
            let target = setval_target(f)
                .map(|(n, _)| n)
                .unwrap_or_else(|| "a sequence".into());
            hits.push(
                Hit::new(format!("sets `{target}` to a constant: keys the table already holds may be handed out again"))
                    .help("set it from the data: setval(seq, (SELECT max(id) FROM the_table))"),
            );
        }
        if let NodeEnum::AlterSeqStmt(s) = ctx.node {
            let restarts = s.options.iter().any(
                |o| matches!(o.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == "restart"),
            );
            if let Some(seq) = s.sequence.as_ref().map(super::qualified) {
                if restarts && !ctx.file.creates_sequence(&seq) {
                    hits.push(Hit::new(format!(
                        "restarts sequence `{seq}`: it hands out values rows may already have"
                    )));
                }
            }
        }
        for (table, cmd) in alter_table_cmds(ctx.node) {
            if ctx.file.created_here(&table) {
                continue;
            }
            let options: Vec<&pg_query::protobuf::DefElem> =
                match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                    Some(NodeEnum::List(l)) => l
                        .items
                        .iter()
                        .filter_map(|i| match i.node.as_ref() {
                            Some(NodeEnum::DefElem(d)) => Some(d.as_ref()),
                            _ => None,
                        })
                        .collect(),
                    Some(NodeEnum::Constraint(c)) => c
                        .options
                        .iter()
                        .filter_map(|i| match i.node.as_ref() {
                            Some(NodeEnum::DefElem(d)) => Some(d.as_ref()),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
            match cmd_type(cmd) {
                AlterTableType::AtSetIdentity if options.iter().any(|d| d.defname == "restart") => {
                    hits.push(Hit::new(format!(
                        "restarts the identity of column `{}` of `{table}`: it hands out values rows may already have",
                        cmd.name
                    )));
                }
                AlterTableType::AtAddIdentity if !options.iter().any(|d| d.defname == "start") => {
                    hits.push(
                        Hit::new(format!(
                            "makes column `{}` of `{table}` an identity starting at 1, below the values it already holds",
                            cmd.name
                        ))
                        .help("give it START WITH one more than the largest value, or setval it from the data in the same migration"),
                    );
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
    fn resets_of_existing_sequences_fire_and_data_driven_ones_do_not() {
        assert!(fires(
            &SequenceReset,
            "SELECT setval('public.orders_id_seq', 1);"
        ));
        assert!(fires(&SequenceReset, "ALTER SEQUENCE public.s RESTART;"));
        assert!(fires(
            &SequenceReset,
            "ALTER TABLE public.t ALTER COLUMN id RESTART WITH 1;"
        ));
        assert!(fires(
            &SequenceReset,
            "ALTER TABLE public.t ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;"
        ));
        assert!(!fires(
            &SequenceReset,
            "SELECT setval('public.orders_id_seq', (SELECT max(id) FROM public.orders));"
        ));
        assert!(!fires(&SequenceReset, "CREATE TABLE public.n (id int GENERATED BY DEFAULT AS IDENTITY); SELECT setval(pg_get_serial_sequence('public.n', 'id'), 5);"));
    }
}
