//! `identifier-too-long`: a name PostgreSQL will cut to 63 bytes.

use pg_query::NodeEnum;

use super::{Ctx, Hit, Rule, RuleDoc, Severity};

pub struct IdentifierTooLong;

static DOC: RuleDoc = RuleDoc {
    name: "identifier-too-long",
    severity: Severity::Review,
    summary: "a name longer than 63 bytes, which PostgreSQL cuts with only a NOTICE",
    what_it_does: "Finds the names a statement gives to tables, columns, indexes, constraints, policies, triggers, \
                   functions, types, schemas and views that are longer than 63 bytes (PostgreSQL's NAMEDATALEN).",
    why_it_matters: "PostgreSQL truncates such a name to its first 63 bytes and says so only in a NOTICE: the object \
                     is then not called what the migration (and the application) calls it, and two long names that \
                     share their first 63 bytes (policy names written as sentences do) collide, so the second \
                     `CREATE` fails or, with `IF NOT EXISTS`, silently does nothing.",
    example: "CREATE POLICY \"Users can view the order items of the orders that belong to their own organisation\" ON public.order_items ...;",
    use_instead: "A name of at most 63 bytes: CREATE POLICY \"org members read order items\" ON public.order_items ...;",
};

const LIMIT: usize = 63;

/// Whether the statement gives something a name (what a too-long name breaks).
fn names_something(node: &NodeEnum) -> bool {
    matches!(
        node,
        NodeEnum::CreateStmt(_)
            | NodeEnum::AlterTableStmt(_)
            | NodeEnum::IndexStmt(_)
            | NodeEnum::CreatePolicyStmt(_)
            | NodeEnum::CreateTrigStmt(_)
            | NodeEnum::CreateSchemaStmt(_)
            | NodeEnum::ViewStmt(_)
            | NodeEnum::CreateFunctionStmt(_)
            | NodeEnum::CreateEnumStmt(_)
            | NodeEnum::CompositeTypeStmt(_)
            | NodeEnum::CreateDomainStmt(_)
            | NodeEnum::CreateSeqStmt(_)
            | NodeEnum::CreateTableAsStmt(_)
            | NodeEnum::RenameStmt(_)
    )
}

/// The identifiers of `text` longer than 63 bytes, as written (the parser has
/// already cut them in the parse tree, so the text is where they are whole).
fn long_identifiers(text: &str) -> Vec<String> {
    let Ok(scanned) = pg_query::scan(text) else {
        return Vec::new();
    };
    scanned
        .tokens
        .iter()
        .filter(|t| t.token == pg_query::protobuf::Token::Ident as i32)
        .filter_map(|t| text.get(t.start as usize..t.end as usize))
        .map(
            |raw| match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => raw.to_lowercase(),
            },
        )
        .filter(|name| name.len() > LIMIT)
        .collect()
}

impl Rule for IdentifierTooLong {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        if ctx.place == super::Place::FunctionBody {
            return Vec::new();
        }
        if !names_something(ctx.node) {
            return Vec::new();
        }
        long_identifiers(ctx.text)
            .into_iter()
            .map(|name| {
                let mut cut = LIMIT;
                while !name.is_char_boundary(cut) {
                    cut -= 1;
                }
                Hit::new(format!(
                    "`{name}` is {} bytes long: PostgreSQL cuts it to `{}`",
                    name.len(),
                    &name[..cut]
                ))
                .help("give it a name of at most 63 bytes")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn long_names_fire_and_short_ones_do_not() {
        let long = "a".repeat(64);
        assert!(fires(
            &IdentifierTooLong,
            &format!("CREATE POLICY \"{long}\" ON public.t USING (true);")
        ));
        assert!(fires(
            &IdentifierTooLong,
            &format!("CREATE TABLE public.t ({long} int);")
        ));
        assert!(fires(
            &IdentifierTooLong,
            &format!("CREATE INDEX {long} ON public.t (a);")
        ));
        assert!(!fires(
            &IdentifierTooLong,
            &format!("CREATE TABLE public.t ({} int);", "a".repeat(63))
        ));
    }
}
