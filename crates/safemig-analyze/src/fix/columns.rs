//! Rewrites of column changes: `SET NOT NULL` proven by a validated CHECK,
//! a volatile `DEFAULT` added without a rewrite and backfilled, a type change
//! the column already has taken out, and a lossy type change kept only behind a
//! test that no stored value changes.
//!
//! Each handles one `ALTER TABLE` with a single command, the shape `supabase db
//! pull` and hand-written migrations use; several commands in one statement are
//! left for a person.

use pg_query::protobuf::{self, AlterTableType, ConstrType};
use pg_query::NodeEnum;

use super::{quote, relation_sql, table_key, Facts, Phase, Rewrite};
use crate::rules::{self, add_column_volatile_default::volatile_call};

/// The one command of an `ALTER TABLE`, with the table.
fn single_cmd(node: &NodeEnum) -> Option<(&protobuf::RangeVar, &protobuf::AlterTableCmd)> {
    let NodeEnum::AlterTableStmt(a) = node else {
        return None;
    };
    if a.objtype != protobuf::ObjectType::ObjectTable as i32 {
        return None;
    }
    let [cmd] = a.cmds.as_slice() else {
        return None;
    };
    let r = a.relation.as_ref()?;
    // `IF EXISTS`, `ONLY` and `ADD COLUMN IF NOT EXISTS` change what runs in
    // ways the rewrites would not keep: left for a person.
    if a.missing_ok || !r.inh {
        return None;
    }
    match &cmd.node {
        Some(NodeEnum::AlterTableCmd(cmd)) if !cmd.missing_ok => Some((r, cmd)),
        _ => None,
    }
}

/// A name PostgreSQL accepts (at most 63 bytes), cut on a character boundary.
fn identifier(name: String) -> String {
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

/// The statements that make `column` NOT NULL once a `CHECK (column IS NOT NULL)`
/// named `check` was added NOT VALID: validated without blocking writes, then
/// SET NOT NULL, which the valid CHECK spares its scan (PostgreSQL 12+).
fn not_null_steps(table: &str, column: &str, check: &str) -> Vec<(Phase, String)> {
    vec![
        (
            Phase::Validate,
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {}", quote(check)),
        ),
        (Phase::Exclusive, format!(
            "-- safemig:ignore set-not-null the CHECK validated above proves it: no scan (PostgreSQL 12+)\n\
             ALTER TABLE {table} ALTER COLUMN {} SET NOT NULL",
            quote(column)
        )),
        (
            Phase::Exclusive,
            format!("ALTER TABLE {table} DROP CONSTRAINT {}", quote(check)),
        ),
    ]
}

fn check_name(r: &protobuf::RangeVar, column: &str) -> String {
    identifier(format!("{}_{column}_not_null_check", r.relname))
}

fn add_not_valid_check(table: &str, column: &str, check: &str) -> String {
    format!(
        "ALTER TABLE {table} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID",
        quote(check),
        quote(column)
    )
}

/// `SET NOT NULL` on an existing table: a `CHECK ... NOT VALID` here (no row is
/// read), the validation and the SET NOT NULL in the follow-up migration.
pub(super) fn set_not_null(node: &NodeEnum) -> Option<(Rewrite, Vec<(Phase, String)>)> {
    let (r, cmd) = single_cmd(node)?;
    if rules::cmd_type(cmd) != AlterTableType::AtSetNotNull || cmd.name.is_empty() {
        return None;
    }
    let table = relation_sql(r);
    let check = check_name(r, &cmd.name);
    Some((
        Rewrite::Replace(
            "set-not-null",
            add_not_valid_check(&table, &cmd.name, &check),
            "a CHECK (… IS NOT NULL) NOT VALID here (no row is read under the lock); the next migration \
             validates it without blocking writes, then sets NOT NULL without a scan"
                .into(),
        ),
        not_null_steps(&table, &cmd.name, &check),
    ))
}

/// An expression as SQL, by PostgreSQL's own deparser.
fn expr_sql(expr: &protobuf::Node) -> Option<String> {
    let select = protobuf::SelectStmt {
        target_list: vec![protobuf::Node {
            node: Some(NodeEnum::ResTarget(Box::new(protobuf::ResTarget {
                val: Some(Box::new(expr.clone())),
                ..Default::default()
            }))),
        }],
        // Protobuf's 0 is "undefined" for these enums, which the deparser rejects.
        op: protobuf::SetOperation::SetopNone as i32,
        limit_option: protobuf::LimitOption::Default as i32,
        ..Default::default()
    };
    NodeEnum::SelectStmt(Box::new(select))
        .deparse(Default::default())
        .ok()?
        .strip_prefix("SELECT ")
        .map(str::to_string)
}

/// `ADD COLUMN ... DEFAULT <volatile>`: the column added without its default
/// (no rewrite), the default set for new rows, and the existing rows filled in
/// the follow-up migration (row locks only: reads never wait).
pub(super) fn volatile_default(node: &NodeEnum) -> Option<(Rewrite, Vec<(Phase, String)>)> {
    let (r, cmd) = single_cmd(node)?;
    if rules::cmd_type(cmd) != AlterTableType::AtAddColumn {
        return None;
    }
    let def = rules::column_def(cmd)?;
    let mut default = None;
    for c in rules::column_constraints(def) {
        match rules::constr_type(c) {
            ConstrType::ConstrDefault => default = c.raw_expr.as_deref(),
            // A CHECK (col IS NOT NULL) added before the backfill would make every
            // UPDATE of an existing row fail until it is filled; added after it,
            // in the same transaction, it would be validated under ACCESS
            // EXCLUSIVE. No single follow-up does it safely: left for a person.
            ConstrType::ConstrNotnull => return None,
            ConstrType::ConstrNull => {}
            // Identity, generated, keys, checks, references: left for a person.
            _ => return None,
        }
    }
    let default = default?;
    volatile_call(default.node.as_ref()?)?;
    let type_name = def.type_name.as_ref()?;
    if type_name.names.is_empty() || def.coll_clause.is_some() {
        return None;
    }
    let expr = expr_sql(default)?;
    // The ADD COLUMN itself, without its DEFAULT and NOT NULL.
    let mut bare = node.clone();
    if let NodeEnum::AlterTableStmt(a) = &mut bare {
        if let Some(NodeEnum::AlterTableCmd(c)) = a.cmds[0].node.as_mut() {
            if let Some(NodeEnum::ColumnDef(d)) = c.def.as_mut().and_then(|d| d.node.as_mut()) {
                d.constraints.clear();
                d.is_not_null = false;
            }
        }
    }
    let add = bare.deparse(Default::default()).ok()?;
    let table = relation_sql(r);
    let column = quote(&def.colname);
    let later = vec![(
        Phase::Backfill,
        format!("UPDATE {table} SET {column} = {expr} WHERE {column} IS NULL"),
    )];
    let text = format!("{add};\nALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {expr}");
    Some((
        Rewrite::Replace(
            "add-column-volatile-default",
            text,
            "added without its default (no table rewrite), the default set for new rows; the next migration \
             fills the existing rows (row locks only: reads never wait)"
                .into(),
        ),
        later,
    ))
}

/// A type as `format_type()` writes it (`varchar(20)` -> `character varying(20)`),
/// for the common built-in types; others lower case as written.
fn canonical_type(t: &protobuf::TypeName) -> Option<String> {
    let name = rules::type_last_name(t);
    let qualified_user_type = t.names.len() > 1
        && !matches!(t.names.first().and_then(|n| n.node.as_ref()),
            Some(NodeEnum::String(s)) if s.sval == "pg_catalog");
    if qualified_user_type || t.setof || t.pct_type {
        return None; // format_type may or may not qualify it: not compared
    }
    let mods: Vec<i32> = t
        .typmods
        .iter()
        .map(|m| match &m.node {
            Some(NodeEnum::AConst(c)) => match &c.val {
                Some(protobuf::a_const::Val::Ival(i)) => Some(i.ival),
                _ => None,
            },
            _ => None,
        })
        .collect::<Option<_>>()?;
    let mods = if mods.is_empty() {
        String::new()
    } else {
        format!(
            "({})",
            mods.iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let base = match name.as_str() {
        "int4" | "int" | "integer" => "integer".to_string(),
        "int8" | "bigint" => "bigint".into(),
        "int2" | "smallint" => "smallint".into(),
        "bool" | "boolean" => "boolean".into(),
        "float8" => "double precision".into(),
        "float4" | "real" => "real".into(),
        "varchar" => format!("character varying{mods}"),
        "bpchar" => format!("character{mods}"),
        "numeric" | "decimal" => format!("numeric{mods}"),
        "timestamptz" => format!("timestamp{mods} with time zone"),
        "timestamp" => format!("timestamp{mods} without time zone"),
        "timetz" => format!("time{mods} with time zone"),
        "time" => format!("time{mods} without time zone"),
        _ if mods.is_empty() => name.clone(),
        _ => return None,
    };
    let already_has_mods = matches!(
        name.as_str(),
        "varchar"
            | "bpchar"
            | "numeric"
            | "decimal"
            | "timestamptz"
            | "timestamp"
            | "timetz"
            | "time"
    );
    if !already_has_mods && !mods.is_empty() {
        return None;
    }
    Some(format!("{base}{}", "[]".repeat(t.array_bounds.len())))
}

/// Whether a `USING` expression is just the column, or the column cast to the
/// target type (`wanted`, canonical): it computes nothing the plain conversion
/// would not.
fn using_is_plain(expr: Option<&protobuf::Node>, column: &str, wanted: &str) -> bool {
    let is_column = |n: Option<&NodeEnum>| {
        matches!(n, Some(NodeEnum::ColumnRef(c)) if c.fields.len() == 1
            && matches!(c.fields[0].node.as_ref(), Some(NodeEnum::String(s)) if s.sval == column))
    };
    match expr.and_then(|e| e.node.as_ref()) {
        None => true,
        Some(NodeEnum::TypeCast(cast)) => {
            is_column(cast.arg.as_deref().and_then(|a| a.node.as_ref()))
                && cast
                    .type_name
                    .as_ref()
                    .and_then(canonical_type)
                    .is_some_and(|t| t == wanted)
        }
        other => is_column(other),
    }
}

/// A type change to the type the column already has (as the database says):
/// taken out. The column's values, indexes and constraints stay as they are.
/// `touched` holds the tables (`schema.table`) and columns
/// (`schema.table.column`) earlier statements of the file reshape.
pub(super) fn same_type(
    node: &NodeEnum,
    facts: &Facts,
    touched: &std::collections::BTreeSet<String>,
) -> Option<Rewrite> {
    let (r, cmd) = single_cmd(node)?;
    if rules::cmd_type(cmd) != AlterTableType::AtAlterColumnType {
        return None;
    }
    let table = table_key(r);
    if !facts.known
        || facts.unknown.contains(&table)
        || touched.contains(&table)
        || touched.contains(&format!("{table}.{}", cmd.name))
    {
        return None;
    }
    let def = rules::column_def(cmd)?;
    let wanted = canonical_type(def.type_name.as_ref()?)?;
    if def.coll_clause.is_some() || !using_is_plain(def.raw_default.as_deref(), &cmd.name, &wanted)
    {
        return None;
    }
    let has = facts.types.get(&format!("{table}.{}", cmd.name))?;
    (has == &wanted).then(|| {
        Rewrite::KeepOut(
            "change-column-type",
            format!(
                "{table}.{} already has type {has}: the statement would change nothing (and still take an ACCESS \
                 EXCLUSIVE lock)",
                cmd.name
            ),
        )
    })
}

/// A literal, single quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A lossy type change kept behind a test, in the same transaction, that every
/// stored value survives it: the new value, cast back to the old type, must
/// equal the old one. Writes wait (SHARE lock) from the test to the change, so
/// no row slips in between; when a value would change, the migration stops
/// with how many rows, and nothing is changed.
pub(super) fn lossy_guard(node: &NodeEnum, code: &str) -> Option<Rewrite> {
    let (r, cmd) = single_cmd(node)?;
    if rules::cmd_type(cmd) != AlterTableType::AtAlterColumnType {
        return None;
    }
    let def = rules::column_def(cmd)?;
    // A USING that computes new values means them to differ: the test would
    // stop every run. migrate's own guard still tests those rows.
    let wanted = def.type_name.as_ref().and_then(canonical_type);
    let plain = match &wanted {
        Some(w) => using_is_plain(def.raw_default.as_deref(), &cmd.name, w),
        None => def.raw_default.is_none(),
    };
    if !plain {
        return None;
    }
    let column = protobuf::Node {
        node: Some(NodeEnum::ColumnRef(protobuf::ColumnRef {
            fields: vec![protobuf::Node {
                node: Some(NodeEnum::String(protobuf::String {
                    sval: cmd.name.clone(),
                })),
            }],
            location: 0,
        })),
    };
    let converted = protobuf::Node {
        node: Some(NodeEnum::TypeCast(Box::new(protobuf::TypeCast {
            arg: Some(Box::new(
                def.raw_default.as_deref().cloned().unwrap_or(column),
            )),
            type_name: def.type_name.clone(),
            location: 0,
        }))),
    };
    let new_value = expr_sql(&converted)?;
    let table = relation_sql(r);
    let expr_tag = "$safemig_expr$";
    let body_tag = "$safemig_fix$";
    if [expr_tag, body_tag]
        .iter()
        .any(|t| new_value.contains(t) || code.contains(t))
    {
        return None;
    }
    let shown = table_key(r);
    let guard = format!(
        "DO {body_tag}\n\
         DECLARE\n  old_type text;\n  changed bigint;\n\
         BEGIN\n  \
         LOCK TABLE {table} IN SHARE MODE;\n  \
         SELECT format_type(atttypid, atttypmod) INTO old_type FROM pg_attribute\n   \
         WHERE attrelid = {rel}::regclass AND attname = {col} AND NOT attisdropped;\n  \
         IF old_type IS NULL THEN\n    RETURN; -- no such column: the ALTER below says so\n  END IF;\n  \
         EXECUTE 'SELECT count(*) FROM {table_in_literal} WHERE ((' || {expr_tag}{new_value}{expr_tag} || ')::' || old_type\n    \
         || ')::text IS DISTINCT FROM {column_in_literal}::text' INTO changed;\n  \
         IF changed > 0 THEN\n    \
         RAISE EXCEPTION 'safemig fix (lossy-type-change): % row(s) of {shown_in_literal} would change value in column {col_in_literal}; nothing was changed', changed\n      \
         USING HINT = 'add a column of the new type, fill and compare it, then drop the old one; or remove this check if the change is intended';\n  \
         END IF;\n\
         END\n\
         {body_tag};\n\
         -- safemig:ignore lossy-type-change the DO block above stops the migration if any stored value would change\n\
         {code}",
        rel = literal(&table),
        col = literal(&cmd.name),
        table_in_literal = table.replace('\'', "''"),
        column_in_literal = quote(&cmd.name).replace('\'', "''"),
        shown_in_literal = shown.replace('\'', "''").replace('%', "%%"),
        col_in_literal = cmd.name.replace('\'', "''").replace('%', "%%"),
    );
    Some(Rewrite::Replace(
        "lossy-type-change",
        guard,
        "kept behind a test, in the same transaction, that no stored value changes (the new value cast back \
         must equal the old one): else the migration stops with the count and nothing is changed"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd_type_name(sql: &str) -> protobuf::TypeName {
        let node = crate::parse::parse_file(sql).statements[0].node().unwrap();
        let (_, cmd) = single_cmd(&node).unwrap();
        rules::column_def(cmd).unwrap().type_name.clone().unwrap()
    }

    #[test]
    fn types_are_written_as_format_type_writes_them() {
        for (written, canonical) in [
            ("varchar(20)", Some("character varying(20)")),
            ("character varying", Some("character varying")),
            ("int", Some("integer")),
            ("int8", Some("bigint")),
            ("timestamptz(3)", Some("timestamp(3) with time zone")),
            ("timestamp", Some("timestamp without time zone")),
            ("numeric(10,2)", Some("numeric(10,2)")),
            ("text[]", Some("text[]")),
            ("double precision", Some("double precision")),
            ("public.mood", None),
        ] {
            let t = cmd_type_name(&format!("ALTER TABLE t ALTER COLUMN c TYPE {written};"));
            assert_eq!(canonical_type(&t).as_deref(), canonical, "{written}");
        }
    }

    #[test]
    fn the_lossy_guard_is_one_valid_statement_whatever_the_names() {
        let sql =
            "ALTER TABLE \"we'ird\".\"t%\" ALTER COLUMN \"c'%\" TYPE date USING \"c'%\"::date;";
        let node = crate::parse::parse_file(sql).statements[0].node().unwrap();
        let Some(Rewrite::Replace(_, text, _)) = lossy_guard(&node, sql.trim_end_matches(';'))
        else {
            panic!("a guard");
        };
        let parsed = crate::parse::parse_file(&text);
        assert!(parsed.error.is_none(), "{text}");
        assert_eq!(parsed.statements.len(), 2, "{text}");
        assert!(text.contains("'\"we''ird\".\"t%\"'::regclass"), "{text}");
    }

    #[test]
    fn a_type_change_is_taken_out_only_when_nothing_would_change() {
        let mut facts = Facts {
            known: true,
            ..Default::default()
        };
        facts
            .types
            .insert("public.t.c".into(), "character varying(40)".into());
        let same_in = |facts: &Facts, sql: &str| {
            let node = crate::parse::parse_file(sql).statements[0].node().unwrap();
            same_type(&node, facts, &Default::default()).is_some()
        };
        let same = |sql: &str| same_in(&facts, sql);
        assert!(same(
            "ALTER TABLE public.t ALTER COLUMN c TYPE varchar(40);"
        ));
        assert!(same(
            "ALTER TABLE t ALTER COLUMN c TYPE varchar(40) USING c::varchar(40);"
        ));
        assert!(!same("ALTER TABLE t ALTER COLUMN c TYPE varchar(41);"));
        assert!(!same(
            "ALTER TABLE t ALTER COLUMN c TYPE varchar(40) USING lower(c);"
        ));
        assert!(!same(
            "ALTER TABLE t ALTER COLUMN c TYPE varchar(40) COLLATE \"C\";"
        ));
        let mut unknown = facts.clone();
        unknown.unknown.insert("public.t".into());
        assert!(!same_in(
            &unknown,
            "ALTER TABLE t ALTER COLUMN c TYPE varchar(40);"
        ));
    }
}
