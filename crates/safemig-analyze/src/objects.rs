//! What a statement creates, drops and uses: the object model that the
//! cross-migration replay ([`crate::order`]) runs on.
//!
//! Names are resolved as the default `search_path` would: unqualified means
//! `public`. Relations (tables, views, sequences, materialized views) share one
//! namespace, as they do in `pg_class`; a reference through a `RangeVar` cannot
//! tell them apart and does not need to.

use std::collections::BTreeSet;
use std::sync::Arc;

use pg_query::protobuf::{self, ObjectType};
use pg_query::{NodeEnum, NodeRef};
use serde::Serialize;

use crate::rules::{self, function_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKind {
    Schema,
    Relation,
    Function,
    Trigger,
    Type,
    Index,
    Policy,
    Extension,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Relation => "table",
            ObjectKind::Function => "function",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Type => "type",
            ObjectKind::Index => "index",
            ObjectKind::Policy => "policy",
            ObjectKind::Extension => "extension",
        }
    }
}

/// A name in an [`ObjectId`], shared: the replay keeps every statement's objects
/// until the end, and the same few names (`public`, a table's) recur in thousands
/// of them, so each distinct name is stored once (per thread).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Arc<str>);

thread_local! {
    static NAMES: std::cell::RefCell<std::collections::HashSet<Arc<str>>> = Default::default();
}

impl Name {
    pub fn new(text: &str) -> Name {
        NAMES.with(|names| {
            let mut names = names.borrow_mut();
            match names.get(text) {
                Some(shared) => Name(shared.clone()),
                None => {
                    let shared: Arc<str> = Arc::from(text);
                    names.insert(shared.clone());
                    Name(shared)
                }
            }
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// An object by kind and name. Triggers and policies are named within their table (`on`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjectId {
    pub kind: ObjectKind,
    pub schema: Name,
    pub name: Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on: Option<Name>,
}

impl ObjectId {
    /// An object by kind, schema (empty = `public`, except for schemas and extensions) and name.
    pub fn new(kind: ObjectKind, schema: &str, name: &str) -> ObjectId {
        let schema =
            if schema.is_empty() && kind != ObjectKind::Schema && kind != ObjectKind::Extension {
                "public"
            } else {
                schema
            };
        ObjectId {
            kind,
            schema: Name::new(schema),
            name: Name::new(name),
            on: None,
        }
    }

    /// A trigger or policy `name` on `schema.table`.
    pub fn on_table(kind: ObjectKind, schema: &str, table: &str, name: &str) -> ObjectId {
        ObjectId {
            kind,
            schema: Name::new(schema),
            name: Name::new(name),
            on: Some(Name::new(&format!("{schema}.{table}"))),
        }
    }

    fn relation(r: &protobuf::RangeVar) -> ObjectId {
        ObjectId::new(ObjectKind::Relation, &r.schemaname, &r.relname)
    }

    fn on(kind: ObjectKind, table: &protobuf::RangeVar, name: &str) -> ObjectId {
        let t = ObjectId::relation(table);
        ObjectId {
            kind,
            schema: t.schema.clone(),
            name: Name::new(name),
            on: Some(Name::new(&format!("{}.{}", t.schema, t.name))),
        }
    }

    fn function(names: &[protobuf::Node]) -> ObjectId {
        let q = function_name(names);
        ObjectId::new(ObjectKind::Function, &q.schema, &q.name)
    }
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let qualified = if self.schema.is_empty() {
            self.name.to_string()
        } else {
            format!("{}.{}", self.schema, self.name)
        };
        match (&self.kind, &self.on) {
            (ObjectKind::Trigger | ObjectKind::Policy, Some(on)) => {
                write!(f, "{} `{}` on `{on}`", self.kind.as_str(), self.name)
            }
            (ObjectKind::Function, _) => write!(f, "function `{qualified}()`"),
            _ => write!(f, "{} `{qualified}`", self.kind.as_str()),
        }
    }
}

/// What one statement does to the set of objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub creates: Vec<ObjectId>,
    pub drops: Vec<ObjectId>,
    /// Objects that must exist for the statement to run.
    pub uses: Vec<ObjectId>,
    /// For `CREATE TRIGGER`: the trigger and the function it executes.
    pub trigger_function: Option<Box<(ObjectId, ObjectId)>>,
    /// For `CREATE FUNCTION ... RETURNS trigger`.
    pub creates_trigger_function: Option<Box<ObjectId>>,
    /// A `DROP ... CASCADE`: what depends on the dropped objects goes too.
    pub cascade: bool,
    /// Creates a view (or materialized view): a CASCADE drops it whole, where a
    /// table only loses what uses the dropped object.
    pub creates_view: bool,
}

/// The objects a file drops with `CASCADE` (what `check --db` asks the database
/// about). Files that never say CASCADE are not parsed.
pub fn cascade_drops(sql: &str) -> Vec<ObjectId> {
    if !sql.to_ascii_lowercase().contains("cascade") {
        return Vec::new();
    }
    crate::parse::parse_file(sql)
        .statements
        .iter()
        .filter_map(|s| s.node())
        .map(|node| effects(&node))
        .filter(|e| e.cascade)
        .flat_map(|e| e.drops)
        .collect()
}

/// The effects of one parsed statement.
pub fn effects(node: &NodeEnum) -> Effects {
    effects_with(node, true)
}

/// [`effects`], with PostgreSQL's `check_function_bodies` setting: when it is off
/// (`SET check_function_bodies = false`, as every `pg_dump` and `supabase db dump`
/// file starts), a `LANGUAGE sql` function's body is not resolved at CREATE, so
/// what it names need not exist yet.
pub fn effects_with(node: &NodeEnum, check_function_bodies: bool) -> Effects {
    let mut e = Effects::default();
    match node {
        NodeEnum::CreateStmt(s) => {
            if let Some(r) = &s.relation {
                e.creates.push(ObjectId::relation(r));
                use_schema(&mut e, &r.schemaname);
            }
            for parent in &s.inh_relations {
                if let Some(NodeEnum::RangeVar(r)) = parent.node.as_ref() {
                    e.uses.push(ObjectId::relation(r));
                }
            }
            for element in &s.table_elts {
                match element.node.as_ref() {
                    Some(NodeEnum::ColumnDef(def)) => column_uses(def, &mut e),
                    Some(NodeEnum::Constraint(c)) => constraint_uses(c, &mut e),
                    _ => {}
                }
            }
        }
        NodeEnum::AlterTableStmt(s) => {
            if let Some(r) = &s.relation {
                if !s.missing_ok {
                    e.uses.push(ObjectId::relation(r));
                }
            }
            for (_, cmd) in rules::alter_table_cmds(node) {
                if let Some(def) = rules::column_def(cmd) {
                    column_uses(def, &mut e);
                }
                if let Some(c) = rules::constraint_def(cmd) {
                    constraint_uses(c, &mut e);
                }
            }
        }
        NodeEnum::IndexStmt(s) => {
            if let Some(r) = &s.relation {
                e.uses.push(ObjectId::relation(r));
                if !s.idxname.is_empty() {
                    e.creates.push(ObjectId::new(
                        ObjectKind::Index,
                        &ObjectId::relation(r).schema,
                        &s.idxname,
                    ));
                }
            }
        }
        NodeEnum::CreateTrigStmt(s) => {
            if let Some(r) = &s.relation {
                let trigger = ObjectId::on(ObjectKind::Trigger, r, &s.trigname);
                let function = ObjectId::function(&s.funcname);
                e.uses.push(ObjectId::relation(r));
                e.uses.push(function.clone());
                e.creates.push(trigger.clone());
                e.trigger_function = Some(Box::new((trigger, function)));
            }
        }
        NodeEnum::CreateFunctionStmt(s) => {
            let f = ObjectId::function(&s.funcname);
            use_schema(&mut e, &f.schema);
            for p in &s.parameters {
                if let Some(NodeEnum::FunctionParameter(p)) = p.node.as_ref() {
                    if let Some(t) = &p.arg_type {
                        type_use(t, &mut e);
                    }
                }
            }
            if let Some(t) = &s.return_type {
                if rules::type_last_name(t) == "trigger" {
                    e.creates_trigger_function = Some(Box::new(f.clone()));
                } else {
                    type_use(t, &mut e);
                }
            }
            // A LANGUAGE sql body is checked when the function is created (check_function_bodies):
            // what it reads must exist by then. PL/pgSQL bodies are only checked when they run.
            let language = crate::lint::def_string(&s.options, "language").unwrap_or_default();
            if language.eq_ignore_ascii_case("sql") && check_function_bodies {
                if let Some(body) = crate::lint::def_string(&s.options, "as") {
                    if let Ok(parsed) = pg_query::parse(&body, pg_query::ParserOptions::default()) {
                        for raw in &parsed.protobuf.stmts {
                            if let Some(n) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) {
                                e.uses.extend(effects(n).uses);
                            }
                        }
                    }
                }
            }
            if let Some(body) = &s.sql_body {
                if let Some(n) = body.node.as_ref() {
                    referenced(n, &mut e);
                }
            }
            e.creates.push(f);
        }
        NodeEnum::ViewStmt(s) => {
            e.creates_view = true;
            if let Some(v) = &s.view {
                e.creates.push(ObjectId::relation(v));
            }
            if let Some(q) = s.query.as_ref().and_then(|q| q.node.as_ref()) {
                referenced(q, &mut e);
            }
        }
        NodeEnum::CreateTableAsStmt(s) => {
            e.creates_view = s.objtype == ObjectType::ObjectMatview as i32;
            if let Some(r) = s.into.as_ref().and_then(|i| i.rel.as_ref()) {
                e.creates.push(ObjectId::relation(r));
            }
            if let Some(q) = s.query.as_ref().and_then(|q| q.node.as_ref()) {
                referenced(q, &mut e);
            }
        }
        NodeEnum::CreateSeqStmt(s) => {
            if let Some(r) = &s.sequence {
                e.creates.push(ObjectId::relation(r));
            }
        }
        NodeEnum::CreatePolicyStmt(s) => {
            if let Some(t) = &s.table {
                e.uses.push(ObjectId::relation(t));
                e.creates
                    .push(ObjectId::on(ObjectKind::Policy, t, &s.policy_name));
            }
            for n in [&s.qual, &s.with_check].into_iter().flatten() {
                if let Some(n) = n.node.as_ref() {
                    referenced(n, &mut e);
                }
            }
        }
        NodeEnum::CreateSchemaStmt(s) => {
            e.creates
                .push(ObjectId::new(ObjectKind::Schema, "", &s.schemaname))
        }
        NodeEnum::CreateExtensionStmt(s) => {
            e.creates
                .push(ObjectId::new(ObjectKind::Extension, "", &s.extname))
        }
        NodeEnum::CreateEnumStmt(s) => e.creates.push(type_id(&s.type_name)),
        NodeEnum::CompositeTypeStmt(s) => {
            if let Some(r) = &s.typevar {
                e.creates
                    .push(ObjectId::new(ObjectKind::Type, &r.schemaname, &r.relname));
            }
        }
        NodeEnum::CreateDomainStmt(s) => e.creates.push(type_id(&s.domainname)),
        NodeEnum::CreateRangeStmt(s) => e.creates.push(type_id(&s.type_name)),
        NodeEnum::DropStmt(s) => drops(s, &mut e),
        NodeEnum::RenameStmt(s) => {
            let kind = ObjectType::try_from(s.rename_type).unwrap_or(ObjectType::Undefined);
            if let (true, Some(r)) = (is_relation_type(kind), &s.relation) {
                let old = ObjectId::relation(r);
                if !s.missing_ok {
                    e.uses.push(old.clone());
                }
                e.drops.push(old.clone());
                e.creates.push(ObjectId {
                    name: Name::new(&s.newname),
                    ..old
                });
            } else if let Some(r) = &s.relation {
                if !s.missing_ok {
                    e.uses.push(ObjectId::relation(r));
                }
            }
        }
        NodeEnum::InsertStmt(_)
        | NodeEnum::UpdateStmt(_)
        | NodeEnum::DeleteStmt(_)
        | NodeEnum::SelectStmt(_)
        | NodeEnum::CopyStmt(_)
        | NodeEnum::TruncateStmt(_)
        | NodeEnum::GrantStmt(_)
        | NodeEnum::LockStmt(_)
        | NodeEnum::MergeStmt(_)
        | NodeEnum::CallStmt(_)
        | NodeEnum::RefreshMatViewStmt(_) => referenced(node, &mut e),
        _ => {}
    }
    // An object a statement creates is not a use of it (CREATE TABLE's own RangeVar).
    let created: BTreeSet<ObjectId> = e.creates.iter().cloned().collect();
    e.uses.retain(|u| !created.contains(u));
    e.uses.sort();
    e.uses.dedup();
    e
}

fn use_schema(e: &mut Effects, schema: &str) {
    if !schema.is_empty() {
        e.uses.push(ObjectId::new(ObjectKind::Schema, "", schema));
    }
}

fn is_relation_type(kind: ObjectType) -> bool {
    matches!(
        kind,
        ObjectType::ObjectTable
            | ObjectType::ObjectView
            | ObjectType::ObjectMatview
            | ObjectType::ObjectSequence
            | ObjectType::ObjectForeignTable
    )
}

fn type_id(names: &[protobuf::Node]) -> ObjectId {
    let q = function_name(names);
    ObjectId::new(ObjectKind::Type, &q.schema, &q.name)
}

/// A column's type (only a type some migration creates will ever match) and its foreign keys.
fn column_uses(def: &protobuf::ColumnDef, e: &mut Effects) {
    if let Some(t) = &def.type_name {
        type_use(t, e);
    }
    for c in rules::column_constraints(def) {
        constraint_uses(c, e);
    }
}

fn type_use(t: &protobuf::TypeName, e: &mut Effects) {
    let names: Vec<&str> = t
        .names
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect();
    match names.as_slice() {
        ["pg_catalog", ..] => {}
        [schema, name] => e.uses.push(ObjectId::new(ObjectKind::Type, schema, name)),
        [name] => e.uses.push(ObjectId::new(ObjectKind::Type, "", name)),
        _ => {}
    }
}

fn constraint_uses(c: &protobuf::Constraint, e: &mut Effects) {
    if rules::constr_type(c) == protobuf::ConstrType::ConstrForeign {
        if let Some(t) = &c.pktable {
            e.uses.push(ObjectId::relation(t));
        }
    }
}

/// Tables and functions a statement or expression reads (CTE names excepted).
fn referenced(node: &NodeEnum, e: &mut Effects) {
    let nodes = node.nodes();
    let ctes: BTreeSet<&str> = nodes
        .iter()
        .filter_map(|(n, ..)| match n {
            NodeRef::CommonTableExpr(c) => Some(c.ctename.as_str()),
            _ => None,
        })
        .collect();
    for (n, ..) in &nodes {
        match n {
            NodeRef::RangeVar(r)
                if !(r.schemaname.is_empty() && ctes.contains(r.relname.as_str())) =>
            {
                e.uses.push(ObjectId::relation(r))
            }
            NodeRef::FuncCall(f) => e.uses.push(ObjectId::function(&f.funcname)),
            _ => {}
        }
    }
}

fn drops(s: &protobuf::DropStmt, e: &mut Effects) {
    e.cascade = s.behavior == protobuf::DropBehavior::DropCascade as i32;
    let kind = ObjectType::try_from(s.remove_type).unwrap_or(ObjectType::Undefined);
    for object in &s.objects {
        let names: Vec<String> = match object.node.as_ref() {
            Some(NodeEnum::List(l)) => l
                .items
                .iter()
                .filter_map(|i| match i.node.as_ref() {
                    Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                    _ => None,
                })
                .collect(),
            Some(NodeEnum::String(s)) => vec![s.sval.clone()],
            Some(NodeEnum::ObjectWithArgs(o)) => o
                .objname
                .iter()
                .filter_map(|i| match i.node.as_ref() {
                    Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                    _ => None,
                })
                .collect(),
            Some(NodeEnum::TypeName(t)) => t
                .names
                .iter()
                .filter_map(|i| match i.node.as_ref() {
                    Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                    _ => None,
                })
                .collect(),
            _ => continue,
        };
        let (schema, name) = match names.as_slice() {
            [.., schema, name] => (schema.as_str(), name.as_str()),
            [name] => ("", name.as_str()),
            [] => continue,
        };
        let id = match kind {
            k if is_relation_type(k) => ObjectId::new(ObjectKind::Relation, schema, name),
            ObjectType::ObjectIndex => ObjectId::new(ObjectKind::Index, schema, name),
            ObjectType::ObjectFunction
            | ObjectType::ObjectProcedure
            | ObjectType::ObjectRoutine => ObjectId::new(ObjectKind::Function, schema, name),
            ObjectType::ObjectType | ObjectType::ObjectDomain => {
                ObjectId::new(ObjectKind::Type, schema, name)
            }
            ObjectType::ObjectSchema => ObjectId::new(ObjectKind::Schema, "", name),
            ObjectType::ObjectExtension => ObjectId::new(ObjectKind::Extension, "", name),
            ObjectType::ObjectTrigger | ObjectType::ObjectPolicy => {
                // [schema?, table, name]
                let (table_schema, table, object) = match names.as_slice() {
                    [s, t, n] => (s.as_str(), t.as_str(), n.as_str()),
                    [t, n] => ("", t.as_str(), n.as_str()),
                    _ => continue,
                };
                let table = protobuf::RangeVar {
                    schemaname: table_schema.into(),
                    relname: table.into(),
                    ..Default::default()
                };
                let kind = if kind == ObjectType::ObjectTrigger {
                    ObjectKind::Trigger
                } else {
                    ObjectKind::Policy
                };
                let id = ObjectId::on(kind, &table, object);
                if !s.missing_ok {
                    e.uses.push(ObjectId::relation(&table));
                }
                e.drops.push(id);
                continue;
            }
            _ => continue,
        };
        if !s.missing_ok {
            e.uses.push(id.clone());
        }
        e.drops.push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(sql: &str) -> Effects {
        let parsed = pg_query::parse(sql, pg_query::ParserOptions::default()).unwrap();
        effects(
            parsed.protobuf.stmts[0]
                .stmt
                .as_ref()
                .unwrap()
                .node
                .as_ref()
                .unwrap(),
        )
    }

    fn names(ids: &[ObjectId]) -> Vec<String> {
        ids.iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn create_table_with_foreign_key_and_user_type() {
        let e = of("CREATE TABLE app.tracks (id int PRIMARY KEY, album int REFERENCES albums (id), mood app.mood)");
        assert_eq!(names(&e.creates), ["table `app.tracks`"]);
        assert_eq!(
            names(&e.uses),
            ["schema `app`", "table `public.albums`", "type `app.mood`"]
        );
    }

    #[test]
    fn trigger_uses_its_table_and_function() {
        let e = of("CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user()");
        assert_eq!(
            names(&e.creates),
            ["trigger `on_auth_user_created` on `auth.users`"]
        );
        assert_eq!(
            names(&e.uses),
            ["table `auth.users`", "function `public.handle_new_user()`"]
        );
        assert!(e.trigger_function.is_some());
    }

    #[test]
    fn views_read_their_tables_but_not_ctes() {
        let e = of("CREATE VIEW v AS WITH recent AS (SELECT * FROM tracks) SELECT * FROM recent JOIN artists USING (id)");
        assert_eq!(
            names(&e.uses),
            ["table `public.artists`", "table `public.tracks`"]
        );
    }

    #[test]
    fn trigger_functions_and_drops() {
        let e = of("CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$");
        assert_eq!(
            e.creates_trigger_function.map(|f| f.to_string()).as_deref(),
            Some("function `public.handle_new_user()`")
        );
        let e = of("DROP TRIGGER IF EXISTS on_auth_user_created ON auth.users");
        assert_eq!(
            names(&e.drops),
            ["trigger `on_auth_user_created` on `auth.users`"]
        );
        assert!(e.uses.is_empty());
        let e = of("DROP FUNCTION public.f(int)");
        assert_eq!(names(&e.uses), ["function `public.f()`"]);
    }

    #[test]
    fn sql_function_bodies_are_read_when_created() {
        let e = of("CREATE FUNCTION n() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM public.tracks'");
        assert!(
            names(&e.uses).contains(&"table `public.tracks`".to_string()),
            "{:?}",
            e.uses
        );
    }
}
