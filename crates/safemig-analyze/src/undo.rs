//! What `safemig rollback` needs to know of a migration, read from its
//! statements before it runs: the objects it creates, replaces, alters or drops
//! (whose state before the migration safemig records in the same transaction),
//! and the statements that cannot be taken back mechanically, with why.
//!
//! Pure: the catalog is read by `safemig_pg::undo::capture`.

use std::collections::BTreeSet;

use pg_query::protobuf::{self, AlterTableType, ObjectType};
use pg_query::{NodeEnum, NodeRef};

use crate::parse::{Statement, TxBehaviour};

/// A kind of object whose state before a migration is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Schema,
    Extension,
    Type,
    Sequence,
    Table,
    View,
    Column,
    /// A column the migration drops: its definition is recorded, its values
    /// come back from the backup taken before the migration.
    DroppedColumn,
    /// A column whose type the migration changes: converted back.
    ColumnType,
    ColumnDefault,
    ColumnNotNull,
    Constraint,
    Index,
    Function,
    Trigger,
    Policy,
    RowSecurity,
    /// Rows of a table that existed, written by the migration (UPDATE, DELETE,
    /// INSERT, MERGE, COPY): the ones it wrote are told by their `xmin`, the
    /// ones it deleted by the count it deleted; their values come back from
    /// the backup taken before it.
    Rows,
    /// A table that existed, dropped: its definition and rows come back from
    /// the backup's archive (the entries of the table and of what belongs to it).
    DroppedTable,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Schema => "schema",
            Kind::Extension => "extension",
            Kind::Type => "type",
            Kind::Sequence => "sequence",
            Kind::Table => "table",
            Kind::View => "view",
            Kind::Column => "column",
            Kind::DroppedColumn => "dropped-column",
            Kind::ColumnType => "column-type",
            Kind::ColumnDefault => "column-default",
            Kind::ColumnNotNull => "column-not-null",
            Kind::Constraint => "constraint",
            Kind::Index => "index",
            Kind::Function => "function",
            Kind::Trigger => "trigger",
            Kind::Policy => "policy",
            Kind::RowSecurity => "row-security",
            Kind::Rows => "rows",
            Kind::DroppedTable => "dropped-table",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        [
            Kind::Schema,
            Kind::Extension,
            Kind::Type,
            Kind::Sequence,
            Kind::Table,
            Kind::View,
            Kind::Column,
            Kind::DroppedColumn,
            Kind::ColumnType,
            Kind::ColumnDefault,
            Kind::ColumnNotNull,
            Kind::Constraint,
            Kind::Index,
            Kind::Function,
            Kind::Trigger,
            Kind::Policy,
            Kind::RowSecurity,
            Kind::Rows,
            Kind::DroppedTable,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One object a migration touches. `schema` is empty when the SQL leaves it to
/// the search_path; `table` is set for what lives on a table (columns,
/// constraints, triggers, policies, row security); `name` is the object's own
/// name (the column's, for the column kinds; the table's, for row security).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Touched {
    pub kind: Kind,
    pub schema: String,
    pub table: String,
    pub name: String,
    /// First touched by a CREATE: an unqualified name is where PostgreSQL
    /// creates it (the first schema of the search_path), not where an object of
    /// that name may already be found.
    pub creating: bool,
}

/// What rollback needs of one migration.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UndoPlan {
    /// In the order the migration first touches them, each once.
    pub touched: Vec<Touched>,
    /// Why the migration cannot be taken back mechanically (empty: it can),
    /// each with its line: `line 4: TRUNCATE of public.tracks empties a table that existed before`.
    pub irreversible: Vec<String>,
    /// It writes rows of tables that existed (also only to fill columns it
    /// added): `migrate` counts them after its statements, and looks for rows
    /// it wrote elsewhere through triggers, cascades or rules.
    pub writes_existing: bool,
}

/// `schema.name` of a range var, schema empty when unqualified.
fn rel(r: &protobuf::RangeVar) -> (String, String) {
    (r.schemaname.clone(), r.relname.clone())
}

fn strings(nodes: &[protobuf::Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

/// (schema, name) of a possibly qualified name list.
fn qualified(names: &[protobuf::Node]) -> Option<(String, String)> {
    match strings(names).as_slice() {
        [.., schema, name] => Some((schema.clone(), name.clone())),
        [name] => Some((String::new(), name.clone())),
        [] => None,
    }
}

/// The plan for a migration's statements.
pub fn plan(statements: &[Statement]) -> UndoPlan {
    let mut planner = Planner::default();
    for s in statements {
        if let TxBehaviour::MustRunAlone(what) = &s.transaction {
            planner.irreversible.push(format!(
                "line {}: {what} runs outside a transaction, so it cannot be taken back with the rest",
                s.code_line
            ));
            continue;
        }
        if let Some(node) = s.node() {
            planner.statement(&node, s.code_line);
        }
    }
    UndoPlan {
        touched: planner.touched,
        irreversible: planner.irreversible,
        writes_existing: planner.writes_existing,
    }
}

#[derive(Default)]
struct Planner {
    touched: Vec<Touched>,
    seen: BTreeSet<Touched>,
    irreversible: Vec<String>,
    /// Tables this migration creates (plain `CREATE TABLE`, which fails if it
    /// exists): what is done to them goes with them.
    created_tables: BTreeSet<(String, String)>,
    /// Functions it creates without OR REPLACE: (schema, name, argument types).
    created_functions: BTreeSet<(String, String, Vec<String>)>,
    /// Columns it adds to tables that existed: an UPDATE that only fills them
    /// goes with them.
    added_columns: BTreeSet<(String, String, String)>,
    writes_existing: bool,
}

/// Functions a migration may call in the rows it writes (into tables it
/// creates, or columns it adds): they change nothing else. The stable and
/// immutable ones `add-column-volatile-default` knows, and these.
const HARMLESS_CALLS: &[&str] = &[
    "gen_random_uuid",
    "uuid_generate_v4",
    "random",
    "clock_timestamp",
    "trim",
    "substr",
    "substring",
    "left",
    "right",
    "split_part",
    "jsonb_set",
    "floor",
    "ceil",
    "greatest",
    "least",
    "md5",
    "encode",
    "decode",
    "format",
    "generate_series",
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "jsonb_agg",
    "json_agg",
    "row_number",
    "nullif",
    "coalesce",
    "regexp_replace",
    "initcap",
    "array_length",
    "cardinality",
    "unnest",
];

fn harmless(name: &str) -> bool {
    HARMLESS_CALLS.contains(&name)
        || crate::rules::add_column_volatile_default::NON_VOLATILE.contains(&name)
}

/// The argument types of a function signature, as comparable names.
fn arg_types<'a>(types: impl Iterator<Item = &'a protobuf::TypeName>) -> Vec<String> {
    types
        .map(|t| {
            let name = strings(&t.names)
                .last()
                .cloned()
                .unwrap_or_default()
                .to_lowercase();
            let name = match name.as_str() {
                "int" | "integer" => "int4".to_string(),
                "bigint" => "int8".into(),
                "smallint" => "int2".into(),
                "boolean" => "bool".into(),
                "varchar" | "character varying" => "varchar".into(),
                "timestamptz" => "timestamptz".into(),
                "double precision" => "float8".into(),
                "real" => "float4".into(),
                _ => name,
            };
            format!("{name}{}", "[]".repeat(t.array_bounds.len()))
        })
        .collect()
}

impl Planner {
    fn touch(&mut self, kind: Kind, schema: &str, table: &str, name: &str) {
        self.touch_as(kind, schema, table, name, false)
    }

    fn create(&mut self, kind: Kind, schema: &str, name: &str) {
        self.touch_as(kind, schema, "", name, true)
    }

    fn touch_as(&mut self, kind: Kind, schema: &str, table: &str, name: &str, creating: bool) {
        let key = Touched {
            kind,
            schema: schema.to_string(),
            table: table.to_string(),
            name: name.to_string(),
            creating: false,
        };
        if self.seen.insert(key.clone()) {
            self.touched.push(Touched { creating, ..key });
        }
    }

    /// What a statement that runs (DML, SELECT) does besides its own target:
    /// writes in its WITH clauses, SELECT INTO, calls of functions that may
    /// change anything.
    fn runs(&mut self, node: &NodeEnum, line: usize) {
        for (n, ..) in node.nodes() {
            match n {
                NodeRef::FuncCall(f) => {
                    let name = strings(&f.funcname)
                        .last()
                        .cloned()
                        .unwrap_or_default()
                        .to_lowercase();
                    if !harmless(&name) {
                        self.refuse(
                            line,
                            format!(
                                "calls {}(): what it changes is not known",
                                strings(&f.funcname).join(".")
                            ),
                        );
                        return;
                    }
                }
                NodeRef::SelectStmt(sel) if sel.into_clause.is_some() => {
                    self.refuse(line, "SELECT INTO creates a table that is not recorded");
                    return;
                }
                _ => {}
            }
        }
        // Writes nested in WITH clauses (the top-level target is the caller's).
        let nested: Vec<(Option<protobuf::RangeVar>, &str)> = node
            .nodes()
            .into_iter()
            .skip(1)
            .filter_map(|(n, ..)| match n {
                NodeRef::InsertStmt(s) => Some((s.relation.clone(), "INSERT")),
                NodeRef::UpdateStmt(s) => Some((s.relation.clone(), "UPDATE")),
                NodeRef::DeleteStmt(s) => Some((s.relation.clone(), "DELETE")),
                NodeRef::MergeStmt(s) => Some((s.relation.clone(), "MERGE")),
                _ => None,
            })
            .collect();
        for (r, what) in nested {
            self.writes(r.as_ref(), what, line);
        }
    }

    fn refuse(&mut self, line: usize, why: impl std::fmt::Display) {
        self.irreversible.push(format!("line {line}: {why}"));
    }

    /// Whether this migration created exactly this function (same schema as
    /// written, same argument types; without arguments named, the only one).
    fn created_function(&self, f: &protobuf::ObjectWithArgs) -> bool {
        let Some((schema, name)) = qualified(&f.objname) else {
            return false;
        };
        let args = arg_types(f.objargs.iter().filter_map(|a| match &a.node {
            Some(NodeEnum::TypeName(t)) => Some(t),
            _ => None,
        }));
        self.created_functions
            .iter()
            .any(|(cs, cn, ca)| *cs == schema && *cn == name && (f.args_unspecified || *ca == args))
    }

    /// Exactly as written: `orders` and `archive.orders` are two tables.
    fn is_created(&self, schema: &str, table: &str) -> bool {
        self.created_tables
            .contains(&(schema.to_string(), table.to_string()))
    }

    /// Rows written into a table: nothing to record when the migration creates
    /// the table (they go with it); else its rows are recorded ([`Kind::Rows`]).
    /// TRUNCATE is not: its rows are gone without a count of them.
    fn writes(&mut self, r: Option<&protobuf::RangeVar>, what: &str, line: usize) {
        if r.is_some_and(|r| !self.is_created(&r.schemaname, &r.relname)) {
            self.writes_existing = true;
        }
        match r {
            Some(r) if self.is_created(&r.schemaname, &r.relname) => {}
            Some(r) if what == "TRUNCATE" => self.refuse(
                line,
                format!(
                    "TRUNCATE of {} empties a table that existed before, which only a backup brings back \
                     (safemig restore --tables)",
                    dotted(&r.schemaname, &r.relname)
                ),
            ),
            Some(r) => self.touch(Kind::Rows, &r.schemaname, "", &r.relname),
            None => self.refuse(line, format!("{what} changes rows in place")),
        }
    }

    fn statement(&mut self, node: &NodeEnum, line: usize) {
        match node {
            NodeEnum::TransactionStmt(_) => {}
            NodeEnum::VariableSetStmt(v) => {
                if v.name.eq_ignore_ascii_case("search_path") {
                    self.refuse(
                        line,
                        "SET search_path: the names after it cannot be tied to the objects they meant",
                    );
                }
            }
            NodeEnum::CreateSchemaStmt(c) => {
                if c.schemaname.is_empty() {
                    self.refuse(
                        line,
                        "CREATE SCHEMA AUTHORIZATION without a name is not recorded",
                    );
                } else if !c.schema_elts.is_empty() {
                    self.refuse(line, "CREATE SCHEMA with objects inside is not recorded");
                } else {
                    self.touch(Kind::Schema, "", "", &c.schemaname);
                }
            }
            NodeEnum::CreateExtensionStmt(c) => {
                let cascade = c.options.iter().any(
                    |o| matches!(&o.node, Some(NodeEnum::DefElem(d)) if d.defname == "cascade"),
                );
                if cascade {
                    self.refuse(
                        line,
                        "CREATE EXTENSION ... CASCADE installs extensions that are not recorded",
                    );
                }
                self.touch(Kind::Extension, "", "", &c.extname)
            }
            NodeEnum::CreateEnumStmt(c) => {
                if let Some((schema, name)) = qualified(&c.type_name) {
                    self.create(Kind::Type, &schema, &name);
                }
            }
            NodeEnum::CompositeTypeStmt(c) => {
                if let Some(r) = &c.typevar {
                    self.create(Kind::Type, &r.schemaname, &r.relname);
                }
            }
            NodeEnum::CreateSeqStmt(c) => {
                if let Some(r) = &c.sequence {
                    self.create(Kind::Sequence, &r.schemaname, &r.relname);
                }
            }
            NodeEnum::CreateStmt(c) => {
                let Some(r) = &c.relation else { return };
                if !c.if_not_exists {
                    self.created_tables.insert(rel(r));
                }
                self.create(Kind::Table, &r.schemaname, &r.relname);
            }
            NodeEnum::CreateTableAsStmt(c) => {
                let Some(r) = c.into.as_ref().and_then(|i| i.rel.as_ref()) else {
                    return;
                };
                if !c.if_not_exists {
                    self.created_tables.insert(rel(r));
                }
                let kind = if c.objtype == ObjectType::ObjectMatview as i32 {
                    Kind::View
                } else {
                    Kind::Table
                };
                if kind == Kind::View {
                    self.refuse(line, "CREATE MATERIALIZED VIEW is not recorded");
                }
                self.create(kind, &r.schemaname, &r.relname);
                self.runs(node, line);
            }
            NodeEnum::ViewStmt(v) => {
                if let Some(r) = &v.view {
                    self.create(Kind::View, &r.schemaname, &r.relname);
                }
            }
            NodeEnum::IndexStmt(i) => {
                let Some(r) = &i.relation else { return };
                if i.idxname.is_empty() {
                    if !self.is_created(&r.schemaname, &r.relname) {
                        self.refuse(
                            line,
                            "an index without a name cannot be found again to drop it",
                        );
                    }
                    return;
                }
                // An index lives in its table's schema.
                self.touch(Kind::Index, &r.schemaname, &r.relname, &i.idxname);
            }
            NodeEnum::CreateFunctionStmt(f) => {
                let Some((schema, name)) = qualified(&f.funcname) else {
                    return;
                };
                if !f.replace {
                    let args = f.parameters.iter().filter_map(|p| match &p.node {
                        Some(NodeEnum::FunctionParameter(fp))
                            if fp.mode != protobuf::FunctionParameterMode::FuncParamOut as i32
                                && fp.mode
                                    != protobuf::FunctionParameterMode::FuncParamTable as i32 =>
                        {
                            fp.arg_type.as_ref()
                        }
                        _ => None,
                    });
                    let args = arg_types(args);
                    self.created_functions
                        .insert((schema.clone(), name.clone(), args));
                }
                self.create(Kind::Function, &schema, &name);
            }
            NodeEnum::CreateTrigStmt(t) => {
                let Some(r) = &t.relation else { return };
                if t.isconstraint {
                    self.refuse(line, "a constraint trigger is not recorded");
                }
                self.touch(Kind::Trigger, &r.schemaname, &r.relname, &t.trigname);
            }
            NodeEnum::CreatePolicyStmt(p) => {
                let Some(r) = &p.table else { return };
                self.touch(Kind::Policy, &r.schemaname, &r.relname, &p.policy_name);
            }
            NodeEnum::AlterPolicyStmt(p) => {
                let Some(r) = &p.table else { return };
                self.touch(Kind::Policy, &r.schemaname, &r.relname, &p.policy_name);
            }
            NodeEnum::AlterTableStmt(a) => self.alter_table(a, line),
            NodeEnum::DropStmt(d) => self.drop(d, line),
            NodeEnum::CommentStmt(c) => {
                let created = match ObjectType::try_from(c.objtype) {
                    Ok(ObjectType::ObjectTable | ObjectType::ObjectColumn) => {
                        match &c.object.as_ref().and_then(|o| o.node.as_ref()) {
                            Some(NodeEnum::List(l)) => {
                                let parts = strings(&l.items);
                                let table = if c.objtype == ObjectType::ObjectColumn as i32 {
                                    &parts[..parts.len().saturating_sub(1)]
                                } else {
                                    &parts[..]
                                };
                                match table {
                                    [.., s, t] => self.is_created(s, t),
                                    [t] => self.is_created("", t),
                                    [] => false,
                                }
                            }
                            _ => false,
                        }
                    }
                    Ok(ObjectType::ObjectFunction) => {
                        match &c.object.as_ref().and_then(|o| o.node.as_ref()) {
                            Some(NodeEnum::ObjectWithArgs(o)) => self.created_function(o),
                            _ => false,
                        }
                    }
                    _ => false,
                };
                if !created {
                    self.refuse(
                        line,
                        "COMMENT ON an object the migration did not create: the old comment is not recorded",
                    );
                }
            }
            NodeEnum::GrantStmt(g) => {
                let all_created = g.objtype == ObjectType::ObjectTable as i32
                    && !g.objects.is_empty()
                    && g.objects.iter().all(|o| match &o.node {
                        Some(NodeEnum::RangeVar(r)) => self.is_created(&r.schemaname, &r.relname),
                        _ => false,
                    });
                if !all_created {
                    self.refuse(
                        line,
                        format!(
                            "{} on objects the migration did not create: the privileges before are not recorded",
                            if g.is_grant { "GRANT" } else { "REVOKE" }
                        ),
                    );
                }
            }
            NodeEnum::InsertStmt(s) => {
                self.writes(s.relation.as_ref(), "INSERT", line);
                self.runs(node, line);
            }
            NodeEnum::UpdateStmt(s) => {
                // Filling only columns this migration added: it goes with them.
                let fills_added = s.relation.as_ref().is_some_and(|r| {
                    !s.target_list.is_empty()
                        && s.target_list.iter().all(|t| match &t.node {
                            Some(NodeEnum::ResTarget(rt)) => self.added_columns.contains(&(
                                r.schemaname.clone(),
                                r.relname.clone(),
                                rt.name.clone(),
                            )),
                            _ => false,
                        })
                });
                if !fills_added {
                    self.writes(s.relation.as_ref(), "UPDATE", line);
                } else {
                    self.writes_existing = true;
                }
                self.runs(node, line);
            }
            NodeEnum::DeleteStmt(s) => {
                self.writes(s.relation.as_ref(), "DELETE", line);
                self.runs(node, line);
            }
            NodeEnum::MergeStmt(s) => {
                self.writes(s.relation.as_ref(), "MERGE", line);
                self.runs(node, line);
            }
            NodeEnum::CopyStmt(s) if s.is_from => self.writes(s.relation.as_ref(), "COPY", line),
            NodeEnum::TruncateStmt(t) => {
                for n in &t.relations {
                    if let Some(NodeEnum::RangeVar(r)) = &n.node {
                        self.writes(Some(r), "TRUNCATE", line);
                    }
                }
            }
            NodeEnum::SelectStmt(_) => self.runs(node, line),
            NodeEnum::DoStmt(_) => {
                self.refuse(line, "a DO block runs code: what it changes is not known")
            }
            NodeEnum::CallStmt(_) => {
                self.refuse(line, "CALL runs a procedure: what it changes is not known")
            }
            other => {
                let kind = format!("{other:?}");
                let kind = kind.split('(').next().unwrap_or("statement");
                self.refuse(line, format!("{kind} is not recorded"));
            }
        }
    }

    fn alter_table(&mut self, a: &protobuf::AlterTableStmt, line: usize) {
        let Some(r) = &a.relation else { return };
        if a.objtype != ObjectType::ObjectTable as i32 {
            self.refuse(line, "ALTER of a view, sequence or index is not recorded");
            return;
        }
        // On a table the migration creates, what is done goes with the table;
        // it is still recorded, so that what it uses (a type, a function) is
        // dropped only after it, in plain reverse order.
        let created = self.is_created(&r.schemaname, &r.relname);
        let (schema, table) = rel(r);
        for c in &a.cmds {
            let Some(NodeEnum::AlterTableCmd(cmd)) = &c.node else {
                continue;
            };
            let kind = AlterTableType::try_from(cmd.subtype).unwrap_or(AlterTableType::Undefined);
            if created
                && kind != AlterTableType::AtAddColumn
                && kind != AlterTableType::AtAddConstraint
            {
                continue;
            }
            match kind {
                AlterTableType::AtAddColumn => {
                    if let Some(NodeEnum::ColumnDef(def)) =
                        cmd.def.as_ref().and_then(|d| d.node.as_ref())
                    {
                        self.touch(Kind::Column, &schema, &table, &def.colname);
                        self.added_columns.insert((
                            schema.clone(),
                            table.clone(),
                            def.colname.clone(),
                        ));
                    }
                }
                AlterTableType::AtColumnDefault => {
                    self.touch(Kind::ColumnDefault, &schema, &table, &cmd.name)
                }
                AlterTableType::AtSetNotNull | AlterTableType::AtDropNotNull => {
                    self.touch(Kind::ColumnNotNull, &schema, &table, &cmd.name)
                }
                AlterTableType::AtAddConstraint => {
                    let Some(NodeEnum::Constraint(con)) =
                        cmd.def.as_ref().and_then(|d| d.node.as_ref())
                    else {
                        continue;
                    };
                    if created {
                        // Only what it may use (a constraint names no other object
                        // it could outlive): nothing to record.
                        continue;
                    }
                    if !con.indexname.is_empty() {
                        self.refuse(
                            line,
                            "ADD CONSTRAINT ... USING INDEX: dropping the constraint would drop the index it took over",
                        );
                    } else if con.conname.is_empty() {
                        self.refuse(
                            line,
                            "a constraint without a name cannot be found again to drop it",
                        );
                    } else {
                        // A primary key makes its columns NOT NULL too.
                        if con.contype == protobuf::ConstrType::ConstrPrimary as i32 {
                            for k in strings(&con.keys) {
                                self.touch(Kind::ColumnNotNull, &schema, &table, &k);
                            }
                        }
                        self.touch(Kind::Constraint, &schema, &table, &con.conname);
                    }
                }
                AlterTableType::AtDropConstraint | AlterTableType::AtValidateConstraint => {
                    self.touch(Kind::Constraint, &schema, &table, &cmd.name)
                }
                AlterTableType::AtEnableRowSecurity
                | AlterTableType::AtDisableRowSecurity
                | AlterTableType::AtForceRowSecurity
                | AlterTableType::AtNoForceRowSecurity => {
                    self.touch(Kind::RowSecurity, &schema, &table, &table)
                }
                AlterTableType::AtDropColumn
                    if cmd.behavior == protobuf::DropBehavior::DropCascade as i32 =>
                {
                    self.refuse(
                        line,
                        "DROP COLUMN ... CASCADE takes along objects that are not recorded",
                    )
                }
                // Its definition is recorded; its values come from the backup.
                AlterTableType::AtDropColumn => {
                    self.touch(Kind::DroppedColumn, &schema, &table, &cmd.name)
                }
                // Converted back: migrate's guard let it through only if every
                // value survived the conversion (or an [[allow]] said so).
                AlterTableType::AtAlterColumnType => {
                    self.touch(Kind::ColumnType, &schema, &table, &cmd.name)
                }
                other => self.refuse(
                    line,
                    format!(
                        "ALTER TABLE {} ({other:?}) is not recorded",
                        dotted(&schema, &table)
                    ),
                ),
            }
        }
    }

    fn drop(&mut self, d: &protobuf::DropStmt, line: usize) {
        let kind = ObjectType::try_from(d.remove_type).unwrap_or(ObjectType::Undefined);
        if d.behavior == protobuf::DropBehavior::DropCascade as i32 {
            self.refuse(
                line,
                "DROP ... CASCADE takes along objects that are not recorded",
            );
            return;
        }
        for o in &d.objects {
            let parts = match &o.node {
                Some(NodeEnum::List(l)) => strings(&l.items),
                _ => Vec::new(),
            };
            match kind {
                ObjectType::ObjectTrigger | ObjectType::ObjectPolicy => {
                    // [schema,] table, name
                    let Some((name, table_parts)) = parts.split_last() else {
                        continue;
                    };
                    let (schema, table) = match table_parts {
                        [.., s, t] => (s.clone(), t.clone()),
                        [t] => (String::new(), t.clone()),
                        [] => continue,
                    };
                    let k = if kind == ObjectType::ObjectTrigger {
                        Kind::Trigger
                    } else {
                        Kind::Policy
                    };
                    self.touch(k, &schema, &table, name);
                }
                ObjectType::ObjectIndex => {
                    let (schema, name) = match parts.as_slice() {
                        [.., s, n] => (s.clone(), n.clone()),
                        [n] => (String::new(), n.clone()),
                        [] => continue,
                    };
                    self.touch(Kind::Index, &schema, "", &name);
                }
                ObjectType::ObjectView => {
                    let (schema, name) = match parts.as_slice() {
                        [.., s, n] => (s.clone(), n.clone()),
                        [n] => (String::new(), n.clone()),
                        [] => continue,
                    };
                    if self
                        .seen
                        .iter()
                        .any(|t| t.kind == Kind::View && t.name == name)
                    {
                        self.touch(Kind::View, &schema, "", &name);
                    } else {
                        self.refuse(
                            line,
                            "DROP VIEW of a view that existed before: its grants are not recorded",
                        );
                    }
                }
                ObjectType::ObjectTable => {
                    let (schema, name) = match parts.as_slice() {
                        [.., s, n] => (s.clone(), n.clone()),
                        [n] => (String::new(), n.clone()),
                        [] => continue,
                    };
                    if !self.is_created(&schema, &name) {
                        self.touch(Kind::DroppedTable, &schema, "", &name);
                    }
                }
                ObjectType::ObjectFunction | ObjectType::ObjectProcedure => {
                    let created = match &o.node {
                        Some(NodeEnum::ObjectWithArgs(f)) => self.created_function(f),
                        _ => false,
                    };
                    if !created {
                        self.refuse(
                            line,
                            "DROP FUNCTION of a function that existed before: its grants are not recorded",
                        );
                    }
                }
                _ => self.refuse(line, format!("DROP of a {kind:?} is not recorded")),
            }
        }
    }
}

fn dotted(schema: &str, name: &str) -> String {
    if schema.is_empty() {
        name.to_string()
    } else {
        format!("{schema}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(sql: &str) -> UndoPlan {
        plan(&crate::parse::parse_file(sql).statements)
    }

    fn refused(sql: &str) -> bool {
        !of(sql).irreversible.is_empty()
    }

    #[test]
    fn a_table_made_elsewhere_does_not_cover_one_of_the_same_name() {
        let sql = "CREATE TABLE archive.orders (id int);\nDROP TABLE orders;\n";
        let plan = of(sql);
        assert!(
            plan.touched
                .iter()
                .any(|t| t.kind == Kind::DroppedTable && t.schema.is_empty() && t.name == "orders"),
            "{plan:?}"
        );
        assert!(refused("DROP TABLE public.orders CASCADE;"));
        assert!(!refused(
            "CREATE TABLE orders (id int);\nINSERT INTO orders VALUES (1);\nDROP TABLE orders;\n"
        ));
    }

    fn rows_of(sql: &str) -> Vec<String> {
        of(sql)
            .touched
            .into_iter()
            .filter(|t| t.kind == Kind::Rows)
            .map(|t| dotted(&t.schema, &t.name))
            .collect()
    }

    #[test]
    fn hidden_writes_and_calls_are_seen() {
        // Writes nested in WITH are recorded like the statement's own.
        assert_eq!(
            rows_of("WITH d AS (DELETE FROM public.orders RETURNING *) SELECT count(*) FROM d;"),
            ["public.orders"]
        );
        assert_eq!(
            rows_of("CREATE TABLE a (id int);\nWITH d AS (DELETE FROM public.orders RETURNING id) INSERT INTO a SELECT id FROM d;"),
            ["public.orders"]
        );
        assert!(refused("TRUNCATE public.orders;"));
        assert!(!refused("CREATE TABLE a (id int);\nTRUNCATE a;"));
        assert!(refused("SELECT * INTO public.copy FROM public.orders;"));
        assert!(refused(
            "CREATE TABLE a (id uuid);\nINSERT INTO a SELECT public.make_ids();"
        ));
        assert!(!refused("CREATE TABLE a (id uuid, at timestamptz);\nINSERT INTO a SELECT gen_random_uuid(), now();"));
        assert!(refused(
            "SELECT cron.schedule('x', '* * * * *', 'select 1');"
        ));
    }

    #[test]
    fn only_the_function_the_migration_made_may_be_dropped() {
        assert!(refused(
            "CREATE FUNCTION api.get_user(bigint) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\nDROP FUNCTION api.get_user(integer);"
        ));
        assert!(!refused(
            "CREATE FUNCTION api.get_user(bigint) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\nDROP FUNCTION api.get_user(int8);"
        ));
    }

    #[test]
    fn constraints_that_take_over_an_index_or_set_not_null_are_handled() {
        assert!(refused("ALTER TABLE public.users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;"));
        let plan = of("ALTER TABLE public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);");
        assert!(plan.irreversible.is_empty(), "{plan:?}");
        assert!(plan
            .touched
            .iter()
            .any(|t| t.kind == Kind::ColumnNotNull && t.name == "id"));
    }

    #[test]
    fn a_backfill_of_an_added_column_goes_with_it_and_order_is_kept_on_new_tables() {
        let plan = of(
            "ALTER TABLE public.t ADD COLUMN slug text;\nUPDATE public.t SET slug = lower(title);",
        );
        assert!(plan.irreversible.is_empty(), "{plan:?}");
        assert!(rows_of(
            "ALTER TABLE public.t ADD COLUMN slug text;\nUPDATE public.t SET slug = lower(title);"
        )
        .is_empty());
        assert_eq!(
            rows_of("ALTER TABLE public.t ADD COLUMN slug text;\nUPDATE public.t SET slug = lower(title), title = 'x';"),
            ["public.t"]
        );
        let plan = of("CREATE TABLE a (x int);\nCREATE TYPE mood AS ENUM ('ok');\nALTER TABLE a ADD COLUMN m mood;");
        let kinds: Vec<Kind> = plan.touched.iter().map(|t| t.kind).collect();
        assert_eq!(kinds, [Kind::Table, Kind::Type, Kind::Column], "{plan:?}");
        assert!(plan
            .touched
            .iter()
            .filter(|t| t.kind != Kind::Column)
            .all(|t| t.creating));
    }
}
