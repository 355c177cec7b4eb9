//! `safemig fix`: the safe version of a migration file, written as a reviewer
//! would accept it: each rewritten statement keeps the original as a comment
//! above it, with the rule and the reason. Pure: what the live database holds
//! comes in as [`Facts`], read by the caller (`safemig_pg::fix_facts`).
//!
//! Rewrites (a rule without a safe mechanical rewrite is left alone):
//! - `drop-column`, `drop-table`, `truncate`: a drop of what holds data is kept
//!   out (commented, with the count); of what is empty or absent, made
//!   `IF EXISTS`; without the database's facts, kept out (what it holds is not known).
//! - `unguarded-create`: `IF NOT EXISTS` / `OR REPLACE`; `unguarded-drop`: `IF EXISTS`.
//! - `missing-lock-timeout`: `SET lock_timeout = '5s';` first.

use std::collections::BTreeMap;

use pg_query::protobuf::{self, AlterTableType, ObjectType};
use pg_query::NodeEnum;

mod columns;

/// The rules `fix` has a rewrite for.
pub const FIXABLE: &[&str] = &[
    "drop-column",
    "drop-table",
    "truncate",
    "unguarded-create",
    "unguarded-drop",
    "missing-lock-timeout",
    "use-before-create",
    "index-without-concurrently",
    "add-foreign-key",
    "constraint-without-not-valid",
    "set-not-null",
    "add-column-volatile-default",
    "change-column-type",
    "lossy-type-change",
];

/// What `safemig fix` does for `rule` (the "Fix" section of its docs), or that it
/// has no mechanical rewrite.
pub fn describe(rule: &str) -> &'static str {
    match rule {
        "drop-column" | "drop-table" | "truncate" => {
            "safemig fix --db keeps the statement out (commented, with the rows or values it would lose) when the \
             table or column holds data, and makes it IF EXISTS when it holds none; without --db it keeps it out."
        }
        "unguarded-create" => "safemig fix adds IF NOT EXISTS, or OR REPLACE for functions, views and triggers.",
        "unguarded-drop" => "safemig fix adds IF EXISTS.",
        "missing-lock-timeout" => "safemig fix puts SET lock_timeout = '5s'; first in the file.",
        "index-without-concurrently" => {
            "safemig fix moves the CREATE INDEX into a migration of its own right after this one, as CREATE INDEX \
             CONCURRENTLY (IF NOT EXISTS when it is named), which safemig runs outside a transaction."
        }
        "add-foreign-key" | "constraint-without-not-valid" => {
            "safemig fix adds the (named) constraint NOT VALID, and validates it in a migration of its own right \
             after this one: VALIDATE CONSTRAINT checks the rows without blocking writes."
        }
        "set-not-null" => {
            "safemig fix adds CHECK (column IS NOT NULL) NOT VALID instead (no row is read under the lock); a \
             migration of its own right after this one validates it without blocking writes, sets NOT NULL (no \
             scan: the valid CHECK proves it, PostgreSQL 12+) and drops the CHECK."
        }
        "add-column-volatile-default" => {
            "safemig fix adds the column without its DEFAULT (no table rewrite) and sets the default for new rows; \
             a migration of its own right after this one fills the existing rows (UPDATE ... WHERE column IS \
             NULL: row locks only, reads never wait; the table's triggers fire). A NOT NULL column, serial, \
             identity and generated columns are left as they are: no single follow-up makes them safely."
        }
        "change-column-type" => {
            "safemig fix --db takes out a type change to the type the column already has (a pulled schema writes \
             them); any other is left as it is."
        }
        "lossy-type-change" => {
            "safemig fix keeps the change behind a test in the same transaction, with writes held: every stored \
             value, converted and cast back, must read as the old one; else the migration stops with the number of \
             rows that would change, and nothing is changed. A USING that computes new values is left as it is \
             (migrate's own guard still tests its rows)."
        }
        "use-before-create" => {
            "safemig fix renames pending files into the order check proposes (each moved file gets the next free \
             version after the file it must follow); an applied file is never renamed."
        }
        _ => "safemig fix has no mechanical rewrite for this rule: it leaves the statement as it is.",
    }
}

/// A file to rename so that the files run in an order where nothing is used
/// before it is made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rename {
    pub from_version: String,
    pub to_version: String,
}

/// The renames that put files (versions ascending, with their statements) into
/// the order `check` proposes. `movable(i)` says whether file `i` may be renamed
/// (a pending migration); `Err` names the applied file that would have to move.
pub fn order_renames(
    files: &[(String, String, &[crate::parse::Statement])],
    movable: &dyn Fn(usize) -> bool,
    also_taken: &[String],
) -> Result<Vec<Rename>, String> {
    let migrations: Vec<crate::order::Migration<'_>> = files
        .iter()
        .map(|(version, label, statements)| crate::order::Migration {
            version,
            label,
            sql: "",
            statements,
        })
        .collect();
    let report = crate::order::analyze(&migrations, &Default::default());
    let Some(order) = report.proposed_order else {
        return Ok(Vec::new());
    };
    let taken: std::collections::BTreeSet<&str> = files
        .iter()
        .map(|f| f.0.as_str())
        .chain(also_taken.iter().map(String::as_str))
        .collect();
    let mut renames = Vec::new();
    let mut previous = String::new();
    for i in order {
        let version = &files[i].0;
        if *version > previous {
            previous = version.clone();
            continue;
        }
        if !movable(i) {
            return Err(format!(
                "{} would have to move after {previous}, but it is applied: rename it by hand only together with its \
                 history row",
                files[i].1
            ));
        }
        let no_room = || {
            format!(
                "no free version of the same width after {previous} for {}",
                files[i].1
            )
        };
        let mut next = next_version(&previous).ok_or_else(no_room)?;
        while taken.contains(next.as_str()) || renames.iter().any(|r: &Rename| r.to_version == next)
        {
            next = next_version(&next).ok_or_else(no_room)?;
        }
        renames.push(Rename {
            from_version: version.clone(),
            to_version: next.clone(),
        });
        previous = next;
    }
    Ok(renames)
}

/// The version right after `v` of the same width: a longer one would sort
/// before `v`'s file by name, as the Supabase CLI orders files.
pub fn next_version(v: &str) -> Option<String> {
    let width = v.len();
    let n = v.parse::<u128>().ok()?.checked_add(1)?;
    let next = format!("{n:0width$}");
    (next.len() == width).then_some(next)
}

/// The rules whose rewrite writes a follow-up migration.
pub const FOLLOW_UP_RULES: &[&str] = &[
    "index-without-concurrently",
    "add-foreign-key",
    "constraint-without-not-valid",
    "set-not-null",
    "add-column-volatile-default",
];

/// What a file's drops would lose: the tables and columns `fix` asks the database about.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Needs {
    /// `schema.table`
    pub tables: Vec<String>,
    /// (`schema.table`, column)
    pub columns: Vec<(String, String)>,
    /// The tables above named without a schema (counted as `public.` ones).
    pub unqualified: Vec<String>,
    /// (`schema.table`, column) of each type change: fix asks for the column's type.
    pub typed_columns: Vec<(String, String)>,
}

/// What the database holds, as read for [`Needs`]. `known` is false without a
/// database: then a drop is kept out, since nothing says it loses nothing.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    pub known: bool,
    /// Tables whose contents cannot be told here (`schema.table`): made by an
    /// earlier pending migration, or named unqualified where the search_path may
    /// point elsewhere. Their drops are kept out.
    pub unknown: std::collections::BTreeSet<String>,
    /// Rows of each table that exists (`schema.table`).
    pub rows: BTreeMap<String, i64>,
    /// Non-null values of each column that exists (`schema.table.column`).
    pub values: BTreeMap<String, i64>,
    /// The type of each column asked for in [`Needs::typed_columns`], as
    /// `format_type()` writes it (`schema.table.column`).
    pub types: BTreeMap<String, String>,
}

/// One change to a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub rule: &'static str,
    pub line: usize,
    pub what: String,
}

/// A file's safe version.
#[derive(Debug, Clone, Default)]
pub struct FileFix {
    pub text: String,
    pub changes: Vec<Change>,
    /// Statements for a migration of their own right after this one (an index
    /// built CONCURRENTLY, a VALIDATE CONSTRAINT), each without its `;`.
    pub follow_up: Vec<String>,
}

fn table_key(r: &protobuf::RangeVar) -> String {
    let schema = if r.schemaname.is_empty() {
        "public"
    } else {
        &r.schemaname
    };
    format!("{schema}.{}", r.relname)
}

/// The tables and columns the file's drops and truncates name.
pub fn needs(sql: &str) -> Needs {
    let mut needs = Needs::default();
    // `schema.table` of a name; unqualified ones are also noted as such.
    let table = |needs: &mut Needs, r: &protobuf::RangeVar| {
        if r.schemaname.is_empty() {
            needs.unqualified.push(table_key(r));
        }
        table_key(r)
    };
    for s in crate::parse::parse_file(sql).statements {
        match s.node() {
            Some(NodeEnum::AlterTableStmt(a)) => {
                let Some(r) = &a.relation else { continue };
                for (_, column) in dropped_columns(&a) {
                    let key = table(&mut needs, r);
                    needs.columns.push((key, column));
                }
                for c in &a.cmds {
                    if let Some(NodeEnum::AlterTableCmd(cmd)) = &c.node {
                        if cmd.subtype == AlterTableType::AtAlterColumnType as i32 {
                            let key = table(&mut needs, r);
                            needs.typed_columns.push((key, cmd.name.clone()));
                        }
                    }
                }
            }
            Some(NodeEnum::DropStmt(d)) if d.remove_type == ObjectType::ObjectTable as i32 => {
                needs.tables.extend(dropped_tables(&d));
                needs
                    .unqualified
                    .extend(d.objects.iter().filter_map(|o| match &o.node {
                        Some(NodeEnum::List(l)) if l.items.len() == 1 => match &l.items[0].node {
                            Some(NodeEnum::String(name)) => Some(format!("public.{}", name.sval)),
                            _ => None,
                        },
                        _ => None,
                    }));
            }
            Some(NodeEnum::TruncateStmt(t)) => {
                for n in &t.relations {
                    if let Some(NodeEnum::RangeVar(r)) = &n.node {
                        let key = table(&mut needs, r);
                        needs.tables.push(key);
                    }
                }
            }
            _ => {}
        }
    }
    for list in [&mut needs.tables, &mut needs.unqualified] {
        list.sort();
        list.dedup();
    }
    for list in [&mut needs.columns, &mut needs.typed_columns] {
        list.sort();
        list.dedup();
    }
    needs
}

/// The tables (`schema.table`) a file creates, writes rows into, alters or
/// renames (or renames a column of): after it runs, what the database held of
/// them is no longer what a later file meets.
pub fn touched_tables(sql: &str) -> Vec<String> {
    let mut touched: Vec<String> = crate::parse::parse_file(sql)
        .statements
        .iter()
        .filter_map(|s| s.node())
        .flat_map(|node| touched_by(&node))
        .collect();
    touched.sort();
    touched.dedup();
    touched
}

/// What one statement may change the shape of: `schema.table` for the whole
/// table (created, dropped, renamed), `schema.table.column` for one column
/// (added, dropped, renamed, or its type, default or nullability changed).
fn reshaped_by(node: &NodeEnum) -> Vec<String> {
    let key = |r: &protobuf::RangeVar| table_key(r);
    match node {
        NodeEnum::AlterTableStmt(a) => {
            let Some(r) = &a.relation else {
                return Vec::new();
            };
            a.cmds
                .iter()
                .filter_map(|c| match &c.node {
                    Some(NodeEnum::AlterTableCmd(cmd)) => {
                        let column = match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                            Some(NodeEnum::ColumnDef(def)) if cmd.name.is_empty() => {
                                def.colname.clone()
                            }
                            _ => cmd.name.clone(),
                        };
                        Some(if column.is_empty() {
                            key(r)
                        } else {
                            format!("{}.{column}", key(r))
                        })
                    }
                    _ => None,
                })
                .collect()
        }
        NodeEnum::RenameStmt(rename) => match &rename.relation {
            Some(r) if rename.rename_type == ObjectType::ObjectColumn as i32 => vec![
                format!("{}.{}", key(r), rename.subname),
                format!("{}.{}", key(r), rename.newname),
            ],
            Some(r) => vec![key(r)],
            None => Vec::new(),
        },
        _ => touched_by(node),
    }
}

/// The tables one statement creates, writes rows into, alters or renames.
fn touched_by(node: &NodeEnum) -> Vec<String> {
    use crate::objects::{effects, ObjectKind};
    let key = |schema: &str, name: &str| {
        let schema = if schema.is_empty() { "public" } else { schema };
        format!("{schema}.{name}")
    };
    let mut touched = Vec::new();
    let written = match node {
        NodeEnum::InsertStmt(s) => s.relation.as_ref(),
        NodeEnum::UpdateStmt(s) => s.relation.as_ref(),
        NodeEnum::MergeStmt(s) => s.relation.as_ref(),
        NodeEnum::CopyStmt(s) if s.is_from => s.relation.as_ref(),
        NodeEnum::AlterTableStmt(s) => s.relation.as_ref(),
        NodeEnum::RenameStmt(s) => s.relation.as_ref(),
        _ => None,
    };
    if let Some(r) = written {
        touched.push(key(&r.schemaname, &r.relname));
    }
    let effects = effects(node);
    touched.extend(
        effects
            .creates
            .into_iter()
            .chain(effects.drops)
            .filter(|o| o.kind == ObjectKind::Relation)
            .map(|o| key(&o.schema, &o.name)),
    );
    touched
}

/// (index of the command, column) of each `DROP COLUMN` of an `ALTER TABLE`.
fn dropped_columns(a: &protobuf::AlterTableStmt) -> Vec<(usize, String)> {
    a.cmds
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match &c.node {
            Some(NodeEnum::AlterTableCmd(cmd))
                if cmd.subtype == AlterTableType::AtDropColumn as i32 =>
            {
                Some((i, cmd.name.clone()))
            }
            _ => None,
        })
        .collect()
}

fn dropped_tables(d: &protobuf::DropStmt) -> Vec<String> {
    d.objects
        .iter()
        .filter_map(|o| match &o.node {
            Some(NodeEnum::List(l)) => {
                let parts: Vec<&str> = l
                    .items
                    .iter()
                    .filter_map(|i| match &i.node {
                        Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
                        _ => None,
                    })
                    .collect();
                match parts.as_slice() {
                    [.., schema, name] => Some(format!("{schema}.{name}")),
                    [name] => Some(format!("public.{name}")),
                    [] => None,
                }
            }
            _ => None,
        })
        .collect()
}

/// The safe version of `sql`, for `rules` (all of [`FIXABLE`] when empty).
pub fn fix_file(
    sql: &str,
    facts: &Facts,
    rules: &[String],
    options: &crate::lint::LintOptions,
) -> FileFix {
    let lint = crate::lint::lint_file(sql, options);
    let parsed = crate::parse::parse_file(sql);
    if parsed.error.is_some() {
        return FileFix {
            text: sql.to_string(),
            changes: Vec::new(),
            follow_up: Vec::new(),
        };
    }
    let mut follow_up: Vec<(Phase, String)> = Vec::new();
    let wanted = |rule: &str| rules.is_empty() || rules.iter().any(|r| r == rule);
    // Rules found per statement (1-based index), as check reports them.
    let mut found: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    let mut lock_timeout_missing = false;
    for f in lint.all_findings() {
        if f.inside.is_some() {
            continue; // inside a DO block or a function body: no mechanical rewrite
        }
        if let Some(i) = f.statement {
            found.entry(i).or_default().push(f.rule.as_str());
        }
        if f.rule == "missing-lock-timeout" {
            lock_timeout_missing = true;
        }
    }
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut changes = Vec::new();
    // Tables and columns the statements before this one reshape: what the
    // database says of them is not what this statement meets.
    let mut touched_here = std::collections::BTreeSet::new();
    for (i, s) in parsed.statements.iter().enumerate() {
        let Some(node) = s.node() else { continue };
        let touched_after = reshaped_by(&node);
        let Some(rules_here) = found.get(&(i + 1)) else {
            touched_here.extend(touched_after);
            continue;
        };
        // Up to its last token: a trailing `-- comment` stays where it is.
        let code = code_only(&sql[s.code_offset..s.offset + s.text.len()]);
        let later: String = parsed.statements[i + 1..]
            .iter()
            .map(|l| l.text.to_lowercase())
            .collect::<Vec<_>>()
            .join("\n");
        let rewrite = if rules_here.contains(&"drop-column") && wanted("drop-column") {
            drop_column(&node, facts)
        } else if rules_here.contains(&"drop-table") && wanted("drop-table") {
            drop_table(&node, facts)
        } else if rules_here.contains(&"truncate") && wanted("truncate") {
            truncate(&node, facts)
        } else if rules_here.contains(&"index-without-concurrently")
            && wanted("index-without-concurrently")
        {
            concurrently(&node, code, &later).map(|(comment, moved)| {
                follow_up.extend(moved.into_iter().map(|m| (Phase::OutsideTransaction, m)));
                Rewrite::KeepOut("index-without-concurrently", comment)
            })
        } else if let Some(rule) = ["add-foreign-key", "constraint-without-not-valid"]
            .into_iter()
            .find(|r| rules_here.contains(r) && wanted(r))
        {
            not_valid(&node, code).map(|(text, later)| {
                follow_up.push((Phase::Validate, later));
                Rewrite::Replace(
                    rule,
                    text,
                    "added NOT VALID (no row is read under the lock); the next migration validates it".into(),
                )
            })
        } else if rules_here.contains(&"set-not-null") && wanted("set-not-null") {
            columns::set_not_null(&node).map(|(rewrite, later)| {
                follow_up.extend(later);
                rewrite
            })
        } else if rules_here.contains(&"add-column-volatile-default")
            && wanted("add-column-volatile-default")
        {
            columns::volatile_default(&node).map(|(rewrite, later)| {
                follow_up.extend(later);
                rewrite
            })
        } else if let Some(rewrite) = (rules_here.contains(&"change-column-type")
            && wanted("change-column-type"))
        .then(|| columns::same_type(&node, facts, &touched_here))
        .flatten()
        {
            Some(rewrite)
        } else if rules_here.contains(&"lossy-type-change") && wanted("lossy-type-change") {
            columns::lossy_guard(&node, code)
        } else if rules_here.contains(&"unguarded-create") && wanted("unguarded-create") {
            guard_create(&node, code)
                .map(|t| Rewrite::Replace("unguarded-create", t, "made idempotent".into()))
        } else if rules_here.contains(&"unguarded-drop") && wanted("unguarded-drop") {
            guard_drop(&node, code)
                .map(|t| Rewrite::Replace("unguarded-drop", t, "made idempotent".into()))
        } else {
            None
        };
        touched_here.extend(touched_after);
        let Some(rewrite) = rewrite else { continue };
        let end = s.offset + s.text.len();
        let (rule, new_text, why, end) = match rewrite {
            // The statement's `;` goes into the comment too.
            Rewrite::KeepOut(rule, why) => {
                let rest = &sql[end..];
                let semicolon = rest.len() - rest.trim_start().len();
                let end = if rest[semicolon..].starts_with(';') {
                    end + semicolon + 1
                } else {
                    end
                };
                (
                    rule,
                    format!(
                        "-- safemig fix ({rule}): kept out: {why}\n{}",
                        commented(&sql[s.code_offset..end])
                    ),
                    why,
                    end,
                )
            }
            Rewrite::Replace(rule, text, why) => {
                if text == code {
                    continue;
                }
                (
                    rule,
                    format!(
                        "-- safemig fix ({rule}): {why}; was:\n{}\n{text}",
                        commented(code)
                    ),
                    why,
                    // Only the code is replaced: a trailing comment stays after it.
                    s.code_offset + code.len(),
                )
            }
        };
        edits.push((s.code_offset, end, new_text));
        changes.push(Change {
            rule,
            line: s.code_line,
            what: why,
        });
    }
    let mut text = sql.to_string();
    for (start, end, new_text) in edits.into_iter().rev() {
        text.replace_range(start..end, &new_text);
    }
    // Asked of the fixed text: a drop kept out takes no lock any more.
    let still_missing = lock_timeout_missing
        && crate::lint::lint_file(&text, options)
            .all_findings()
            .any(|f| f.rule == "missing-lock-timeout");
    if still_missing && wanted("missing-lock-timeout") && !has_lock_timeout(&text) {
        text = format!(
            "-- safemig fix (missing-lock-timeout): a lock this file waits for gives up after 5 s instead of \
             queueing every query behind it\nSET lock_timeout = '5s';\n{text}"
        );
        changes.insert(
            0,
            Change {
                rule: "missing-lock-timeout",
                line: 1,
                what: "SET lock_timeout = '5s' first".into(),
            },
        );
    }
    // One transaction holds every lock it took until it ends: what reads rows
    // (backfills, validations) goes before anything that takes ACCESS EXCLUSIVE.
    follow_up.sort_by_key(|(phase, _)| *phase);
    FileFix {
        text,
        changes,
        follow_up: follow_up.into_iter().map(|(_, s)| s).collect(),
    }
}

fn relation_sql(r: &protobuf::RangeVar) -> String {
    if r.schemaname.is_empty() {
        quote(&r.relname)
    } else {
        format!("{}.{}", quote(&r.schemaname), quote(&r.relname))
    }
}

/// `CREATE INDEX` rebuilt as `CREATE INDEX CONCURRENTLY [IF NOT EXISTS]` for a
/// migration of its own: (why it moved, the statement).
fn concurrently(node: &NodeEnum, code: &str, later: &str) -> Option<(String, Vec<String>)> {
    let NodeEnum::IndexStmt(index) = node else {
        return None;
    };
    // Unnamed, it could not be dropped and rebuilt by name after a failed build;
    // used later in the file (by name, or a unique index by an ON CONFLICT or a
    // foreign key on its table), it must exist there: both stay put.
    if index.concurrent || index.idxname.is_empty() || later.contains(&index.idxname.to_lowercase())
    {
        return None;
    }
    let table = index.relation.as_ref()?;
    if index.unique && later.contains(&table.relname.to_lowercase()) {
        return None;
    }
    let mut text = insert_after_first(code, &["INDEX"], "CONCURRENTLY")?;
    if index.if_not_exists {
        // A failed concurrent build leaves an INVALID index of that name, which
        // IF NOT EXISTS would keep for good: the drop below clears it instead.
        let scan_without = text
            .replacen("IF NOT EXISTS ", "", 1)
            .replacen("if not exists ", "", 1);
        text = scan_without;
    }
    let qualified = if table.schemaname.is_empty() {
        quote(&index.idxname)
    } else {
        format!("{}.{}", quote(&table.schemaname), quote(&index.idxname))
    };
    Some((
        "moved to the next migration as CREATE INDEX CONCURRENTLY: building it here would block writes to the \
         table for the whole build"
            .into(),
        vec![format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}"), text],
    ))
}

/// `code` up to the end of its last token: what follows (a trailing comment) is left out.
fn code_only(code: &str) -> &str {
    match pg_query::scan(code) {
        Ok(scan) => scan
            .tokens
            .iter()
            .filter(|t| {
                !matches!(
                    protobuf::Token::try_from(t.token),
                    Ok(protobuf::Token::SqlComment | protobuf::Token::CComment)
                )
            })
            .map(|t| t.end as usize)
            .max()
            .and_then(|end| code.get(..end))
            .unwrap_or(code),
        Err(_) => code,
    }
}

/// An identifier, always quoted: safe whatever the name (a keyword, capitals).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A named foreign key or CHECK added `NOT VALID`, and its `VALIDATE CONSTRAINT`.
fn not_valid(node: &NodeEnum, code: &str) -> Option<(String, String)> {
    let NodeEnum::AlterTableStmt(a) = node else {
        return None;
    };
    let [cmd] = a.cmds.as_slice() else {
        return None;
    };
    let Some(NodeEnum::AlterTableCmd(cmd)) = &cmd.node else {
        return None;
    };
    if cmd.subtype != AlterTableType::AtAddConstraint as i32 {
        return None;
    }
    let Some(NodeEnum::Constraint(c)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
        return None;
    };
    let kind = protobuf::ConstrType::try_from(c.contype).ok()?;
    if !matches!(
        kind,
        protobuf::ConstrType::ConstrForeign | protobuf::ConstrType::ConstrCheck
    ) || c.skip_validation
        || c.conname.is_empty()
    {
        return None; // an unnamed constraint cannot be validated by name later
    }
    let table = relation_sql(a.relation.as_ref()?);
    Some((
        format!("{} NOT VALID", code.trim_end()),
        format!(
            "ALTER TABLE {table} VALIDATE CONSTRAINT {}",
            quote(&c.conname)
        ),
    ))
}

/// Where a follow-up statement goes in its migration, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// `CREATE INDEX CONCURRENTLY` and its `DROP INDEX CONCURRENTLY`: run on their own.
    OutsideTransaction,
    /// Fills rows: row locks only.
    Backfill,
    /// `VALIDATE CONSTRAINT`: reads every row under SHARE UPDATE EXCLUSIVE.
    Validate,
    /// `SET NOT NULL` proven by a valid CHECK, `DROP CONSTRAINT`: ACCESS
    /// EXCLUSIVE, briefly, reading nothing; held to the end of the transaction.
    Exclusive,
}

enum Rewrite {
    /// Commented out, with why.
    KeepOut(&'static str, String),
    /// Replaced by this text, with why.
    Replace(&'static str, String, String),
}

fn commented(code: &str) -> String {
    code.lines()
        .map(|l| format!("-- {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn has_lock_timeout(text: &str) -> bool {
    crate::parse::parse_file(text).statements.iter().any(|s| {
        matches!(s.node(), Some(NodeEnum::VariableSetStmt(v)) if v.name.eq_ignore_ascii_case("lock_timeout"))
    })
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn drop_column(node: &NodeEnum, facts: &Facts) -> Option<Rewrite> {
    let NodeEnum::AlterTableStmt(a) = node else {
        return None;
    };
    let r = a.relation.as_ref()?;
    let table = table_key(r);
    let drops = dropped_columns(a);
    if drops.is_empty() || drops.len() != a.cmds.len() {
        return None; // mixed with other commands: left for a person
    }
    if !facts.known || facts.unknown.contains(&table) {
        return Some(Rewrite::KeepOut(
            "drop-column",
            format!(
                "what {table}'s column(s) {} hold is not known here (no database, a table an earlier pending \
                 migration makes, or a name the search_path may resolve elsewhere); drop them in a migration of \
                 their own once nothing needs the data",
                names(&drops)
            ),
        ));
    }
    let columns: Vec<String> = drops.iter().map(|(_, c)| format!("{table}.{c}")).collect();
    let holding = holding(&facts.values, &columns, ("value", "values"));
    if !holding.is_empty() {
        return Some(Rewrite::KeepOut(
            "drop-column",
            format!(
                "{}: dropping loses them; drop it in a migration of its own once nothing needs the data (after a backup)",
                holding.join(", ")
            ),
        ));
    }
    // Empty or absent: dropping loses nothing, and IF EXISTS lets it run anywhere.
    let mut a = a.clone();
    for (i, _) in &drops {
        if let Some(NodeEnum::AlterTableCmd(cmd)) = a.cmds[*i].node.as_mut() {
            cmd.missing_ok = true;
        }
    }
    if facts.rows.get(&table).is_none() {
        a.missing_ok = true;
    }
    let text = NodeEnum::AlterTableStmt(a)
        .deparse(Default::default())
        .ok()?;
    Some(Rewrite::Replace(
        "drop-column",
        text,
        format!(
            "{table}: {} hold no value here, so the drop loses nothing",
            names(&drops)
        ),
    ))
}

/// `key holds N rows|values` for each of `keys` that holds any, by `counts`.
fn holding(counts: &BTreeMap<String, i64>, keys: &[String], unit: (&str, &str)) -> Vec<String> {
    keys.iter()
        .filter_map(|k| {
            let n = *counts.get(k).filter(|n| **n > 0)?;
            Some(format!("{k} holds {}", plural(n, unit.0, unit.1)))
        })
        .collect()
}

fn names(drops: &[(usize, String)]) -> String {
    drops
        .iter()
        .map(|(_, c)| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn drop_table(node: &NodeEnum, facts: &Facts) -> Option<Rewrite> {
    let NodeEnum::DropStmt(d) = node else {
        return None;
    };
    let tables = dropped_tables(d);
    if !facts.known || tables.iter().any(|t| facts.unknown.contains(t)) {
        return Some(Rewrite::KeepOut(
            "drop-table",
            format!(
                "what {} holds is not known here (no database, a table an earlier pending migration makes, or \
                 a name the search_path may resolve elsewhere)",
                tables.join(", ")
            ),
        ));
    }
    let holding = holding(&facts.rows, &tables, ("row", "rows"));
    if !holding.is_empty() {
        return Some(Rewrite::KeepOut(
            "drop-table",
            format!(
                "{}: dropping loses them; archive or move the rows first",
                holding.join(", ")
            ),
        ));
    }
    let mut d = d.clone();
    d.missing_ok = true;
    let text = NodeEnum::DropStmt(d).deparse(Default::default()).ok()?;
    Some(Rewrite::Replace(
        "drop-table",
        text,
        format!(
            "{} hold no row here, so the drop loses nothing",
            tables.join(", ")
        ),
    ))
}

fn truncate(node: &NodeEnum, facts: &Facts) -> Option<Rewrite> {
    let NodeEnum::TruncateStmt(t) = node else {
        return None;
    };
    let tables: Vec<String> = t
        .relations
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::RangeVar(r)) => Some(table_key(r)),
            _ => None,
        })
        .collect();
    let holding = holding(&facts.rows, &tables, ("row", "rows"));
    if facts.known && holding.is_empty() && !tables.iter().any(|t| facts.unknown.contains(t)) {
        return None; // nothing to lose here
    }
    Some(Rewrite::KeepOut(
        "truncate",
        if holding.is_empty() {
            format!(
                "what {} holds is not known here (no database, a table an earlier pending migration makes, or \
                 a name the search_path may resolve elsewhere)",
                tables.join(", ")
            )
        } else {
            format!("{}: TRUNCATE deletes every one of them", holding.join(", "))
        },
    ))
}

/// `CREATE` made idempotent by a word inserted where PostgreSQL's grammar takes it.
fn guard_create(node: &NodeEnum, code: &str) -> Option<String> {
    let (after, word): (&[&str], &str) = match node {
        NodeEnum::CreateStmt(_) | NodeEnum::CreateTableAsStmt(_) => {
            (&["TABLE", "VIEW"], "IF NOT EXISTS")
        }
        NodeEnum::IndexStmt(s) if !s.idxname.is_empty() => (
            if s.concurrent {
                &["CONCURRENTLY"]
            } else {
                &["INDEX"]
            },
            "IF NOT EXISTS",
        ),
        NodeEnum::CreateSchemaStmt(_) => (&["SCHEMA"], "IF NOT EXISTS"),
        NodeEnum::CreateSeqStmt(_) => (&["SEQUENCE"], "IF NOT EXISTS"),
        NodeEnum::CreateExtensionStmt(_) => (&["EXTENSION"], "IF NOT EXISTS"),
        NodeEnum::CreateFunctionStmt(_) | NodeEnum::ViewStmt(_) => (&["CREATE"], "OR REPLACE"),
        NodeEnum::CreateTrigStmt(t) if !t.isconstraint => (&["CREATE"], "OR REPLACE"),
        _ => return None,
    };
    insert_after_first(code, after, word)
}

/// `DROP` made idempotent: `IF EXISTS` after the object's kind.
fn guard_drop(node: &NodeEnum, code: &str) -> Option<String> {
    let after: &[&str] = match node {
        NodeEnum::DropStmt(d) if d.concurrent => &["CONCURRENTLY"],
        NodeEnum::DropStmt(d) => match ObjectType::try_from(d.remove_type).ok()? {
            ObjectType::ObjectTable | ObjectType::ObjectForeignTable => &["TABLE"],
            ObjectType::ObjectView | ObjectType::ObjectMatview => &["VIEW"],
            ObjectType::ObjectIndex => &["INDEX"],
            ObjectType::ObjectSequence => &["SEQUENCE"],
            ObjectType::ObjectSchema => &["SCHEMA"],
            ObjectType::ObjectFunction => &["FUNCTION"],
            ObjectType::ObjectProcedure => &["PROCEDURE"],
            ObjectType::ObjectType | ObjectType::ObjectDomain => &["TYPE", "DOMAIN"],
            ObjectType::ObjectPolicy => &["POLICY"],
            ObjectType::ObjectTrigger => &["TRIGGER"],
            ObjectType::ObjectExtension => &["EXTENSION"],
            _ => return None,
        },
        _ => return None,
    };
    insert_after_first(code, after, "IF EXISTS")
}

/// `code` with ` word` after the first keyword token in `after` (case-insensitive).
fn insert_after_first(code: &str, after: &[&str], word: &str) -> Option<String> {
    let scan = pg_query::scan(code).ok()?;
    let token = scan.tokens.iter().find(|t| {
        let text = code.get(t.start as usize..t.end as usize).unwrap_or("");
        after.iter().any(|a| text.eq_ignore_ascii_case(a))
    })?;
    let at = token.end as usize;
    Some(format!("{} {word}{}", &code[..at], &code[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(rows: &[(&str, i64)], values: &[(&str, i64)]) -> Facts {
        Facts {
            known: true,
            rows: rows.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_drop_of_what_holds_data_is_kept_out_with_its_count_and_of_what_is_empty_made_if_exists() {
        let sql = "ALTER TABLE public.library_tracks DROP COLUMN r2_key;\n";
        assert_eq!(
            needs(sql).columns,
            [("public.library_tracks".to_string(), "r2_key".to_string())]
        );
        let holding = fix_file(
            sql,
            &facts(
                &[("public.library_tracks", 59)],
                &[("public.library_tracks.r2_key", 59)],
            ),
            &[],
            &Default::default(),
        );
        assert!(
            holding
                .text
                .contains("-- ALTER TABLE public.library_tracks DROP COLUMN r2_key"),
            "{}",
            holding.text
        );
        assert!(holding.text.contains("holds 59 values"), "{}", holding.text);
        assert!(
            crate::parse::parse_file(&holding.text)
                .statements
                .iter()
                .all(|s| s.node().is_none()),
            "{}",
            holding.text
        );
        let empty = fix_file(
            sql,
            &facts(
                &[("public.library_tracks", 59)],
                &[("public.library_tracks.r2_key", 0)],
            ),
            &[],
            &Default::default(),
        );
        assert!(
            empty.text.contains("DROP IF EXISTS r2_key"),
            "{}",
            empty.text
        );
        // A table an earlier pending migration makes: nothing can be told, kept out.
        let mut made_earlier = facts(&[], &[]);
        made_earlier.unknown.insert("public.library_tracks".into());
        let unknown = fix_file(sql, &made_earlier, &[], &Default::default());
        assert!(unknown.text.contains("not known here"), "{}", unknown.text);
        assert_eq!(
            needs("ALTER TABLE tracks DROP COLUMN x;").unqualified,
            ["public.tracks"]
        );
        // Idempotent: the fixed file needs no further fix.
        for fixed in [&holding.text, &empty.text] {
            let again = fix_file(
                fixed,
                &facts(
                    &[("public.library_tracks", 59)],
                    &[("public.library_tracks.r2_key", 0)],
                ),
                &[],
                &Default::default(),
            );
            assert!(
                again.changes.is_empty() || again.text == *fixed,
                "{}",
                again.text
            );
        }
    }

    #[test]
    fn files_are_renamed_into_the_order_that_works_never_an_applied_one() {
        let trigger = crate::parse::split(
            "CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW \
             EXECUTE FUNCTION public.handle_new_user();",
        )
        .unwrap();
        let baseline = crate::parse::split(
            "CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;",
        )
        .unwrap();
        let files = [
            (
                "20250101000000".to_string(),
                "20250101000000_trigger.sql".to_string(),
                trigger.as_slice(),
            ),
            (
                "20250831022018".to_string(),
                "20250831022018_baseline.sql".to_string(),
                baseline.as_slice(),
            ),
        ];
        let renames = order_renames(&files, &|_| true, &[]).unwrap();
        assert_eq!(
            renames,
            [Rename {
                from_version: "20250101000000".into(),
                to_version: "20250831022019".into()
            }]
        );
        assert!(order_renames(&files, &|i| i != 0, &[])
            .unwrap_err()
            .contains("applied"));
        assert_eq!(next_version("99"), None);
        assert_eq!(next_version("0041"), Some("0042".into()));
    }

    #[test]
    fn a_trailing_comment_stays_outside_and_an_index_used_later_stays_put() {
        let sql = "ALTER TABLE public.c ADD CONSTRAINT c_fk FOREIGN KEY (t_id) REFERENCES public.t (id) -- link\n;\n\
                   CREATE INDEX t_email ON public.t (email);\nCOMMENT ON INDEX t_email IS 'by email';\n";
        let fixed = fix_file(sql, &Facts::default(), &[], &Default::default());
        assert!(
            fixed
                .text
                .contains("REFERENCES public.t (id) NOT VALID -- link"),
            "{}",
            fixed.text
        );
        assert!(
            fixed
                .text
                .contains("\nCREATE INDEX t_email ON public.t (email);"),
            "the index the next statement uses stays: {}",
            fixed.text
        );
        assert_eq!(fixed.follow_up.len(), 1, "{:?}", fixed.follow_up);
        assert!(
            fixed.follow_up[0].ends_with("VALIDATE CONSTRAINT \"c_fk\""),
            "{:?}",
            fixed.follow_up
        );
    }

    #[test]
    fn a_type_change_after_another_of_the_same_column_is_never_taken_out() {
        let mut facts = facts(&[("public.t", 3)], &[]);
        facts.types.insert("public.t.c".into(), "integer".into());
        let options = crate::lint::LintOptions::default();
        let alone = fix_file(
            "ALTER TABLE public.t ALTER COLUMN c TYPE int4;\n",
            &facts,
            &[],
            &options,
        );
        assert!(
            alone
                .text
                .contains("-- ALTER TABLE public.t ALTER COLUMN c TYPE int4"),
            "{}",
            alone.text
        );
        // The database's type is not what the second statement meets.
        let sql = "ALTER TABLE public.t ALTER COLUMN c TYPE bigint;\nALTER TABLE public.t ALTER COLUMN c TYPE integer;\n";
        let fixed = fix_file(sql, &facts, &[], &options);
        assert!(
            fixed
                .text
                .contains("\nALTER TABLE public.t ALTER COLUMN c TYPE integer;"),
            "{}",
            fixed.text
        );
        // Another column of the same table does not count.
        let sql = "ALTER TABLE public.t ALTER COLUMN d TYPE bigint;\nALTER TABLE public.t ALTER COLUMN c TYPE integer;\n";
        let fixed = fix_file(sql, &facts, &[], &options);
        assert!(
            fixed
                .text
                .contains("-- ALTER TABLE public.t ALTER COLUMN c TYPE integer"),
            "{}",
            fixed.text
        );
    }

    #[test]
    fn creates_and_drops_are_made_idempotent_in_place() {
        let sql = "CREATE TABLE public.t (id int);\nCREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n\
                   CREATE UNIQUE INDEX CONCURRENTLY t_id ON public.t (id);\nDROP POLICY p ON public.t;\n";
        let fixed = fix_file(
            sql,
            &Facts::default(),
            &["unguarded-create".into(), "unguarded-drop".into()],
            &Default::default(),
        );
        for expected in [
            "CREATE TABLE IF NOT EXISTS public.t (id int);",
            "CREATE OR REPLACE FUNCTION public.f()",
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_id",
            "DROP POLICY IF EXISTS p ON public.t;",
        ] {
            assert!(fixed.text.contains(expected), "{expected}: {}", fixed.text);
        }
        assert_eq!(fixed.changes.len(), 4);
        let again = fix_file(
            &fixed.text,
            &Facts::default(),
            &["unguarded-create".into(), "unguarded-drop".into()],
            &Default::default(),
        );
        assert!(again.changes.is_empty(), "{:?}", again.changes);
    }
}
