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
    ColumnDefault,
    ColumnNotNull,
    Constraint,
    Index,
    Function,
    Trigger,
    Policy,
    RowSecurity,
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
            Kind::ColumnDefault => "column-default",
            Kind::ColumnNotNull => "column-not-null",
            Kind::Constraint => "constraint",
            Kind::Index => "index",
            Kind::Function => "function",
            Kind::Trigger => "trigger",
            Kind::Policy => "policy",
            Kind::RowSecurity => "row-security",
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
            Kind::ColumnDefault,
            Kind::ColumnNotNull,
            Kind::Constraint,
            Kind::Index,
            Kind::Function,
            Kind::Trigger,
            Kind::Policy,
            Kind::RowSecurity,
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
}

/// What rollback needs of one migration.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UndoPlan {
    /// In the order the migration first touches them, each once.
    pub touched: Vec<Touched>,
    /// Why the migration cannot be taken back mechanically (empty: it can),
    /// each with its line: `line 4: UPDATE of public.tracks changes rows in place`.
    pub irreversible: Vec<String>,
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

/// Whether an expression calls a function (its effects are not known).
fn calls_function(node: &NodeEnum) -> Option<String> {
    node.nodes().into_iter().find_map(|(n, ..)| match n {
        NodeRef::FuncCall(f) => Some(strings(&f.funcname).join(".")),
        _ => None,
    })
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
    /// Functions it creates without OR REPLACE.
    created_functions: BTreeSet<(String, String)>,
}

impl Planner {
    fn touch(&mut self, kind: Kind, schema: &str, table: &str, name: &str) {
        let t = Touched {
            kind,
            schema: schema.to_string(),
            table: table.to_string(),
            name: name.to_string(),
        };
        if self.seen.insert(t.clone()) {
            self.touched.push(t);
        }
    }

    fn refuse(&mut self, line: usize, why: impl std::fmt::Display) {
        self.irreversible.push(format!("line {line}: {why}"));
    }

    fn is_created(&self, schema: &str, table: &str) -> bool {
        self.created_tables
            .iter()
            .any(|(s, t)| t == table && (s == schema || s.is_empty() || schema.is_empty()))
    }

    /// Rows written into a table: fine when the migration creates the table
    /// (they go with it), else they change data in place.
    fn writes(&mut self, r: Option<&protobuf::RangeVar>, what: &str, line: usize) {
        match r {
            Some(r) if self.is_created(&r.schemaname, &r.relname) => {}
            Some(r) => self.refuse(
                line,
                format!(
                    "{what} of {} changes rows of a table that existed before, which only a backup brings back \
                     (safemig restore --tables)",
                    dotted(&r.schemaname, &r.relname)
                ),
            ),
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
                self.touch(Kind::Schema, "", "", &c.schemaname);
                if !c.schema_elts.is_empty() {
                    self.refuse(line, "CREATE SCHEMA with objects inside is not recorded");
                }
            }
            NodeEnum::CreateExtensionStmt(c) => self.touch(Kind::Extension, "", "", &c.extname),
            NodeEnum::CreateEnumStmt(c) => {
                if let Some((schema, name)) = qualified(&c.type_name) {
                    self.touch(Kind::Type, &schema, "", &name);
                }
            }
            NodeEnum::CompositeTypeStmt(c) => {
                if let Some(r) = &c.typevar {
                    self.touch(Kind::Type, &r.schemaname, "", &r.relname);
                }
            }
            NodeEnum::CreateSeqStmt(c) => {
                if let Some(r) = &c.sequence {
                    self.touch(Kind::Sequence, &r.schemaname, "", &r.relname);
                }
            }
            NodeEnum::CreateStmt(c) => {
                let Some(r) = &c.relation else { return };
                if !c.if_not_exists {
                    self.created_tables.insert(rel(r));
                }
                self.touch(Kind::Table, &r.schemaname, "", &r.relname);
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
                self.touch(kind, &r.schemaname, "", &r.relname);
            }
            NodeEnum::ViewStmt(v) => {
                if let Some(r) = &v.view {
                    self.touch(Kind::View, &r.schemaname, "", &r.relname);
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
                    self.created_functions
                        .insert((schema.clone(), name.clone()));
                }
                self.touch(Kind::Function, &schema, "", &name);
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
                            Some(NodeEnum::ObjectWithArgs(o)) => {
                                qualified(&o.objname).is_some_and(|(s, n)| {
                                    self.created_functions.iter().any(|(cs, cn)| {
                                        *cn == n && (cs == &s || cs.is_empty() || s.is_empty())
                                    })
                                })
                            }
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
            NodeEnum::InsertStmt(s) => self.writes(s.relation.as_ref(), "INSERT", line),
            NodeEnum::UpdateStmt(s) => self.writes(s.relation.as_ref(), "UPDATE", line),
            NodeEnum::DeleteStmt(s) => self.writes(s.relation.as_ref(), "DELETE", line),
            NodeEnum::MergeStmt(s) => self.writes(s.relation.as_ref(), "MERGE", line),
            NodeEnum::CopyStmt(s) if s.is_from => self.writes(s.relation.as_ref(), "COPY", line),
            NodeEnum::TruncateStmt(t) => {
                for n in &t.relations {
                    if let Some(NodeEnum::RangeVar(r)) = &n.node {
                        self.writes(Some(r), "TRUNCATE", line);
                    }
                }
            }
            NodeEnum::SelectStmt(_) => {
                if let Some(f) = calls_function(node) {
                    self.refuse(
                        line,
                        format!("SELECT calls {f}(): what it changes is not known"),
                    );
                }
            }
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
        let created = self.is_created(&r.schemaname, &r.relname);
        let (schema, table) = rel(r);
        for c in &a.cmds {
            let Some(NodeEnum::AlterTableCmd(cmd)) = &c.node else {
                continue;
            };
            if created {
                continue; // goes with the table
            }
            let kind = AlterTableType::try_from(cmd.subtype).unwrap_or(AlterTableType::Undefined);
            match kind {
                AlterTableType::AtAddColumn => {
                    if let Some(NodeEnum::ColumnDef(def)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                        self.touch(Kind::Column, &schema, &table, &def.colname);
                    }
                }
                AlterTableType::AtColumnDefault => {
                    self.touch(Kind::ColumnDefault, &schema, &table, &cmd.name)
                }
                AlterTableType::AtSetNotNull | AlterTableType::AtDropNotNull => {
                    self.touch(Kind::ColumnNotNull, &schema, &table, &cmd.name)
                }
                AlterTableType::AtAddConstraint => {
                    let name = match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                        Some(NodeEnum::Constraint(c)) => c.conname.clone(),
                        _ => String::new(),
                    };
                    if name.is_empty() {
                        self.refuse(line, "a constraint without a name cannot be found again to drop it");
                    } else {
                        self.touch(Kind::Constraint, &schema, &table, &name);
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
                    self.refuse(line, "DROP COLUMN ... CASCADE takes along objects that are not recorded")
                }
                // Its definition is recorded; its values come from the backup.
                AlterTableType::AtDropColumn => {
                    self.touch(Kind::DroppedColumn, &schema, &table, &cmd.name)
                }
                AlterTableType::AtAlterColumnType => self.refuse(
                    line,
                    format!(
                        "the type change of {}.{} rewrites its values in place; only a backup brings them back",
                        dotted(&schema, &table),
                        cmd.name
                    ),
                ),
                other => self.refuse(
                    line,
                    format!("ALTER TABLE {} ({other:?}) is not recorded", dotted(&schema, &table)),
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
                        self.refuse(
                            line,
                            format!(
                                "DROP TABLE {}: its rows come back only from a backup (safemig restore --tables)",
                                dotted(&schema, &name)
                            ),
                        );
                    }
                }
                ObjectType::ObjectFunction | ObjectType::ObjectProcedure => {
                    let created = match &o.node {
                        Some(NodeEnum::ObjectWithArgs(f)) => {
                            qualified(&f.objname).is_some_and(|(s, n)| {
                                self.created_functions.iter().any(|(cs, cn)| {
                                    *cn == n && (cs == &s || cs.is_empty() || s.is_empty())
                                })
                            })
                        }
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
