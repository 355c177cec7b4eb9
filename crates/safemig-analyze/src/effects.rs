//! What a statement may do to existing values, read from its parse tree, so the
//! guard knows before it runs which tables to count and which casts to test.
//!
//! Pure, like the rest of the crate: the engine in `safemig-pg` turns these into
//! queries. What a statement hides (dynamic SQL, a function's body) is not seen
//! here; the engine's counters catch that and decide on a second run.

use pg_query::protobuf::{self, AlterTableType, Node};
use pg_query::{NodeEnum, NodeRef};

use crate::parse::{QualifiedName, Statement};

/// `ALTER TABLE t ALTER COLUMN c TYPE newtype [USING expr]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeChange {
    pub table: QualifiedName,
    pub column: String,
    /// The column's new value as SQL evaluated over the table's row:
    /// `(expr)::newtype`, with `expr` the `USING` expression or the column itself.
    pub new_value_sql: String,
    /// The new type as SQL (`numeric(10, 0)`).
    pub new_type_sql: String,
}

impl Statement {
    /// Every column type change of this statement, in order.
    pub fn type_changes(&self) -> Vec<TypeChange> {
        let tree = self.node();
        let Some(NodeEnum::AlterTableStmt(stmt)) = tree.as_ref() else {
            return Vec::new();
        };
        let Some(relation) = stmt.relation.as_ref() else {
            return Vec::new();
        };
        let table = QualifiedName {
            schema: relation.schemaname.clone(),
            name: relation.relname.clone(),
        };
        stmt.cmds
            .iter()
            .filter_map(|cmd| match cmd.node.as_ref() {
                Some(NodeEnum::AlterTableCmd(c))
                    if c.subtype == AlterTableType::AtAlterColumnType as i32 =>
                {
                    let def = match c.def.as_deref().and_then(|d| d.node.as_ref()) {
                        Some(NodeEnum::ColumnDef(def)) => def,
                        _ => return None,
                    };
                    let type_name = def.type_name.clone()?;
                    let value = match def.raw_default.as_deref() {
                        Some(expr) => expr.clone(),
                        None => column_ref(&c.name),
                    };
                    let cast = |arg: Node| {
                        expression_sql(Node {
                            node: Some(NodeEnum::TypeCast(Box::new(protobuf::TypeCast {
                                arg: Some(Box::new(arg)),
                                type_name: Some(type_name.clone()),
                                location: -1,
                            }))),
                        })
                    };
                    let new_value_sql = cast(value)?;
                    let null = Node {
                        node: Some(NodeEnum::AConst(protobuf::AConst {
                            isnull: true,
                            location: -1,
                            val: None,
                        })),
                    };
                    let new_type_sql = cast(null)?.strip_prefix("NULL::")?.to_string();
                    Some(TypeChange {
                        table: table.clone(),
                        column: c.name.clone(),
                        new_value_sql,
                        new_type_sql,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Every relation this statement names: tables it reads, writes, alters, drops
    /// or grants on, and the indexes, sequences and views it names. The guard reads
    /// these at BEGIN; what the statement reaches without naming it (dynamic SQL, a
    /// function, a cascade) the engine finds afterwards in the locks it holds.
    pub fn named_relations(&self) -> Vec<QualifiedName> {
        let tree = self.node();
        let Some(node) = tree.as_ref() else {
            return Vec::new();
        };
        let mut out: Vec<QualifiedName> = Vec::new();
        let mut add = |name: QualifiedName| {
            if !out.contains(&name) {
                out.push(name);
            }
        };
        let range_var = |r: &protobuf::RangeVar| QualifiedName {
            schema: r.schemaname.clone(),
            name: r.relname.clone(),
        };
        let range_var_node = |n: &Node| match n.node.as_ref() {
            Some(NodeEnum::RangeVar(r)) => Some(range_var(r)),
            _ => None,
        };
        // pg_query's walker follows what a query reads and writes; the statements
        // that lock tables hard without a plain relation field are added here.
        for (n, ..) in node.nodes() {
            match n {
                NodeRef::RangeVar(r) => add(range_var(r)),
                NodeRef::DropStmt(d) if is_relation_kind(d.remove_type) => {
                    d.objects.iter().filter_map(list_name).for_each(&mut add)
                }
                // DROP POLICY p ON t, DROP TRIGGER g ON t, DROP RULE r ON t: the table
                // is the name without its last part.
                NodeRef::DropStmt(d) if is_table_child_kind(d.remove_type) => d
                    .objects
                    .iter()
                    .filter_map(|o| match o.node.as_ref() {
                        Some(NodeEnum::List(l)) if l.items.len() > 1 => list_name(&Node {
                            node: Some(NodeEnum::List(protobuf::List {
                                items: l.items[..l.items.len() - 1].to_vec(),
                            })),
                        }),
                        _ => None,
                    })
                    .for_each(&mut add),
                NodeRef::RenameStmt(r) => r.relation.iter().map(range_var).for_each(&mut add),
                NodeRef::AlterObjectSchemaStmt(r) => {
                    r.relation.iter().map(range_var).for_each(&mut add)
                }
                NodeRef::CreatePolicyStmt(p) => p.table.iter().map(range_var).for_each(&mut add),
                NodeRef::AlterPolicyStmt(p) => p.table.iter().map(range_var).for_each(&mut add),
                NodeRef::ClusterStmt(c) => c.relation.iter().map(range_var).for_each(&mut add),
                NodeRef::ReindexStmt(r) => r.relation.iter().map(range_var).for_each(&mut add),
                NodeRef::CreateTrigStmt(t) => t.constrrel.iter().map(range_var).for_each(&mut add),
                NodeRef::CreateStmt(c) => {
                    c.inh_relations
                        .iter()
                        .filter_map(range_var_node)
                        .for_each(&mut add);
                    for element in &c.table_elts {
                        let constraints: Vec<&Node> = match element.node.as_ref() {
                            Some(NodeEnum::Constraint(_)) => vec![element],
                            Some(NodeEnum::ColumnDef(d)) => d.constraints.iter().collect(),
                            _ => Vec::new(),
                        };
                        for c in constraints {
                            if let Some(NodeEnum::Constraint(c)) = c.node.as_ref() {
                                c.pktable.iter().map(range_var).for_each(&mut add);
                            }
                        }
                    }
                }
                NodeRef::AlterTableStmt(a) => {
                    for cmd in &a.cmds {
                        let Some(NodeEnum::AlterTableCmd(cmd)) = cmd.node.as_ref() else {
                            continue;
                        };
                        match cmd.def.as_deref().and_then(|d| d.node.as_ref()) {
                            Some(NodeEnum::Constraint(c)) => {
                                c.pktable.iter().map(range_var).for_each(&mut add)
                            }
                            Some(NodeEnum::PartitionCmd(p)) => {
                                p.name.iter().map(range_var).for_each(&mut add)
                            }
                            Some(NodeEnum::ColumnDef(d)) => {
                                for c in &d.constraints {
                                    if let Some(NodeEnum::Constraint(c)) = c.node.as_ref() {
                                        c.pktable.iter().map(range_var).for_each(&mut add);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Whether the statement can change tables it does not name without locking
    /// them, which the engine's look at the transaction's locks would not see:
    /// `GRANT ... ON ALL TABLES IN SCHEMA`, granting a role, `DROP OWNED`,
    /// `REASSIGN OWNED`, renaming a schema (its tables move with it), and a
    /// `DROP ... CASCADE` of what tables are made of (a schema, a type, an
    /// extension). The guard reads every protected table around such a statement.
    pub fn reaches_unnamed(&self) -> bool {
        let tree = self.node();
        let Some(node) = tree.as_ref() else {
            return false;
        };
        node.nodes().iter().any(|(n, ..)| match n {
            NodeRef::GrantStmt(g) => {
                g.targtype == protobuf::GrantTargetType::AclTargetAllInSchema as i32
            }
            NodeRef::GrantRoleStmt(_)
            | NodeRef::DropOwnedStmt(_)
            | NodeRef::ReassignOwnedStmt(_) => true,
            NodeRef::RenameStmt(r) => r.rename_type == protobuf::ObjectType::ObjectSchema as i32,
            NodeRef::DropStmt(d) => {
                d.behavior == protobuf::DropBehavior::DropCascade as i32
                    && !is_relation_kind(d.remove_type)
            }
            _ => false,
        })
    }

    /// Tables whose existing rows this statement updates by name: `UPDATE`, `MERGE`,
    /// `INSERT ... ON CONFLICT DO UPDATE`, also inside a `WITH`.
    pub fn updated_tables(&self) -> Vec<QualifiedName> {
        let tree = self.node();
        let Some(node) = tree.as_ref() else {
            return Vec::new();
        };
        let mut out: Vec<QualifiedName> = Vec::new();
        for (n, ..) in node.nodes() {
            let relation = match n {
                NodeRef::UpdateStmt(s) => s.relation.as_ref(),
                NodeRef::MergeStmt(s) => s.relation.as_ref(),
                NodeRef::InsertStmt(s)
                    if s.on_conflict_clause.as_ref().is_some_and(|c| {
                        c.action == protobuf::OnConflictAction::OnconflictUpdate as i32
                    }) =>
                {
                    s.relation.as_ref()
                }
                _ => None,
            };
            if let Some(r) = relation {
                let name = QualifiedName {
                    schema: r.schemaname.clone(),
                    name: r.relname.clone(),
                };
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out
    }
}

/// A table, or one column of it, whose data a statement destroys or needs empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTarget {
    pub table: QualifiedName,
    pub column: Option<String>,
}

/// Rules whose risk is the data of one table or column: when that table does not
/// exist on the target before the run, or holds nothing there, they cannot lose
/// anything (and a required column can be added to an empty table).
pub const DATA_RULES: &[&str] = &[
    "drop-table",
    "drop-column",
    "truncate",
    "delete-without-where",
    "delete-rows",
    "add-required-column",
    "disable-rls",
];

/// Rules whose statements act where no rollback reaches (another server, the
/// file system, a whole database): `migrate --allow-risky` still refuses them
/// until `safemig.toml` names the migration.
pub const IRREVERSIBLE_RULES: &[&str] = &["reaches-outside", "drop-database"];

impl Statement {
    /// The tables and columns whose data this statement destroys (`DROP TABLE`,
    /// `ALTER TABLE ... DROP COLUMN`, `TRUNCATE`, `DELETE`) or which must be empty
    /// for it to work (`ADD COLUMN ... NOT NULL` with no default).
    pub fn data_targets(&self) -> Vec<DataTarget> {
        let table = |r: &protobuf::RangeVar| QualifiedName {
            schema: r.schemaname.clone(),
            name: r.relname.clone(),
        };
        let whole = |table: QualifiedName| DataTarget {
            table,
            column: None,
        };
        let tree = self.node();
        match tree.as_ref() {
            Some(NodeEnum::DropStmt(s))
                if s.remove_type == protobuf::ObjectType::ObjectTable as i32 =>
            {
                s.objects.iter().filter_map(list_name).map(whole).collect()
            }
            Some(NodeEnum::TruncateStmt(_)) => self.truncates.iter().cloned().map(whole).collect(),
            Some(NodeEnum::DeleteStmt(s)) => s
                .relation
                .as_ref()
                .map(table)
                .map(whole)
                .into_iter()
                .collect(),
            Some(NodeEnum::AlterTableStmt(s)) => {
                let Some(relation) = s.relation.as_ref().map(table) else {
                    return Vec::new();
                };
                s.cmds
                    .iter()
                    .filter_map(|c| match c.node.as_ref() {
                        Some(NodeEnum::AlterTableCmd(c))
                            if c.subtype == AlterTableType::AtDropColumn as i32 =>
                        {
                            Some(DataTarget {
                                table: relation.clone(),
                                column: Some(c.name.clone()),
                            })
                        }
                        Some(NodeEnum::AlterTableCmd(c))
                            if c.subtype == AlterTableType::AtAddColumn as i32
                                || c.subtype == AlterTableType::AtDisableRowSecurity as i32 =>
                        {
                            Some(whole(relation.clone()))
                        }
                        _ => None,
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

/// What an `UPDATE` would do to the values of its table, as one query to run
/// just before it: `SELECT count(*), count(*) FILTER (WHERE <old value present>
/// AND <new value NULL>), ... FROM <its table and FROM list> WHERE <its WHERE>`.
/// It reads only the rows the UPDATE matches (its own WHERE, its own indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateProbe {
    pub table: QualifiedName,
    /// The columns the UPDATE assigns, in the order of the query's counts after `count(*)`.
    pub columns: Vec<String>,
    pub sql: String,
}

impl Statement {
    /// The probe of a top-level `UPDATE`, or `None` when a query run before it
    /// could see other values than the UPDATE itself: a `WITH`, a `FROM` (a row
    /// matched twice), a subquery, `SET (a, b) = (...)`, `DEFAULT`, an array
    /// element, or a function not on a short list of built-ins without side
    /// effects (a volatile or context-dependent one would answer differently).
    /// The engine then counts the whole table instead.
    pub fn update_probe(&self) -> Option<UpdateProbe> {
        let tree = self.node();
        let Some(NodeEnum::UpdateStmt(u)) = tree.as_ref() else {
            return None;
        };
        if u.with_clause.is_some() || !u.from_clause.is_empty() {
            return None;
        }
        let plain = |n: &Node| n.node.as_ref().is_some_and(evaluates_the_same);
        if !u.target_list.iter().all(plain) || !u.where_clause.as_deref().is_none_or(plain) {
            return None;
        }
        let relation = u.relation.as_ref()?;
        let qualifier = relation
            .alias
            .as_ref()
            .map(|a| a.aliasname.clone())
            .unwrap_or_else(|| relation.relname.clone());
        let mut columns = Vec::new();
        let mut filters = String::new();
        for target in &u.target_list {
            let Some(NodeEnum::ResTarget(t)) = target.node.as_ref() else {
                return None;
            };
            if !t.indirection.is_empty() {
                return None;
            }
            let value = t.val.as_deref()?;
            if matches!(
                value.node.as_ref(),
                Some(NodeEnum::MultiAssignRef(_)) | Some(NodeEnum::SetToDefault(_)) | None
            ) {
                return None;
            }
            let old = expression_sql(Node {
                node: Some(NodeEnum::ColumnRef(protobuf::ColumnRef {
                    fields: [qualifier.as_str(), t.name.as_str()]
                        .iter()
                        .map(|s| Node {
                            node: Some(NodeEnum::String(protobuf::String {
                                sval: s.to_string(),
                            })),
                        })
                        .collect(),
                    location: -1,
                })),
            })?;
            let new = expression_sql(value.clone())?;
            filters.push_str(&format!(
                ", pg_catalog.count(*) FILTER (WHERE pg_catalog.num_nonnulls({old}) OPERATOR(pg_catalog.=) 1 \
                 AND pg_catalog.num_nonnulls(({new})) OPERATOR(pg_catalog.=) 0)"
            ));
            columns.push(t.name.clone());
        }
        let mut from = vec![from_sql(Node {
            node: Some(NodeEnum::RangeVar(relation.clone())),
        })?];
        for item in &u.from_clause {
            from.push(from_sql(item.clone())?);
        }
        let condition = match u.where_clause.as_deref() {
            Some(w) => format!(" WHERE {}", expression_sql(w.clone())?),
            None => String::new(),
        };
        Some(UpdateProbe {
            table: QualifiedName {
                schema: relation.schemaname.clone(),
                name: relation.relname.clone(),
            },
            columns,
            sql: format!(
                "SELECT pg_catalog.count(*){filters} FROM {}{condition}",
                from.join(", ")
            ),
        })
    }
}

/// Built-in functions an UPDATE may call and still be probed: no side effect,
/// and the same answer in the probe as in the UPDATE (none reads the session or
/// the query). Resolved by the migration's own search_path in both; the engine
/// probes only while that path leaves `pg_catalog` first.
const SAME_IN_PROBE: &[&str] = &[
    "lower",
    "upper",
    "btrim",
    "ltrim",
    "rtrim",
    "trim",
    "concat",
    "concat_ws",
    "replace",
    "left",
    "right",
    "substr",
    "substring",
    "length",
    "char_length",
    "lpad",
    "rpad",
    "abs",
    "round",
    "floor",
    "ceil",
    "trunc",
    "md5",
    "split_part",
    "initcap",
    "to_char",
    "jsonb_build_object",
    "jsonb_set",
    "now",
];

/// Whether an expression evaluates the same in a probe run just before the
/// UPDATE as in the UPDATE itself.
fn evaluates_the_same(node: &NodeEnum) -> bool {
    node.nodes().into_iter().all(|(n, ..)| match n {
        NodeRef::FuncCall(f) => {
            let parts: Vec<String> = f
                .funcname
                .iter()
                .filter_map(|p| match p.node.as_ref() {
                    Some(NodeEnum::String(s)) => Some(s.sval.to_ascii_lowercase()),
                    _ => None,
                })
                .collect();
            let (schema, name) = match parts.as_slice() {
                [name] => ("", name.as_str()),
                [schema, name] => (schema.as_str(), name.as_str()),
                _ => return false,
            };
            (schema.is_empty() || schema == "pg_catalog")
                && SAME_IN_PROBE.contains(&name)
                && f.agg_filter.is_none()
                && f.over.is_none()
        }
        NodeRef::SubLink(_)
        | NodeRef::ParamRef(_)
        | NodeRef::CurrentOfExpr(_)
        | NodeRef::MultiAssignRef(_) => false,
        _ => true,
    })
}

/// A FROM item as SQL text (`public.t AS x`), by PostgreSQL's own deparser.
fn from_sql(item: Node) -> Option<String> {
    let select = NodeEnum::SelectStmt(Box::new(protobuf::SelectStmt {
        from_clause: vec![item],
        op: protobuf::SetOperation::SetopNone as i32,
        limit_option: protobuf::LimitOption::Default as i32,
        ..Default::default()
    }));
    let sql = select.deparse(Default::default()).ok()?;
    sql.strip_prefix("SELECT FROM ")
        .map(|s| s.trim().to_string())
}

fn column_ref(name: &str) -> Node {
    Node {
        node: Some(NodeEnum::ColumnRef(protobuf::ColumnRef {
            fields: vec![Node {
                node: Some(NodeEnum::String(protobuf::String { sval: name.into() })),
            }],
            location: -1,
        })),
    }
}

/// An expression as SQL text, by PostgreSQL's own deparser (`SELECT expr`, cut).
fn expression_sql(expr: Node) -> Option<String> {
    let select = NodeEnum::SelectStmt(Box::new(protobuf::SelectStmt {
        target_list: vec![Node {
            node: Some(NodeEnum::ResTarget(Box::new(protobuf::ResTarget {
                val: Some(Box::new(expr)),
                location: -1,
                ..Default::default()
            }))),
        }],
        op: protobuf::SetOperation::SetopNone as i32,
        limit_option: protobuf::LimitOption::Default as i32,
        ..Default::default()
    }));
    let sql = select.deparse(Default::default()).ok()?;
    sql.strip_prefix("SELECT ").map(|s| s.trim().to_string())
}

/// `[schema.]name` of a `DROP` object (a list of strings; a catalog prefix is ignored).
fn list_name(object: &Node) -> Option<QualifiedName> {
    let Some(NodeEnum::List(l)) = object.node.as_ref() else {
        return None;
    };
    let parts: Vec<&str> = l
        .items
        .iter()
        .filter_map(|i| match i.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [name] => Some(QualifiedName {
            schema: String::new(),
            name: name.to_string(),
        }),
        [.., schema, name] => Some(QualifiedName {
            schema: schema.to_string(),
            name: name.to_string(),
        }),
        [] => None,
    }
}

/// Object kinds that belong to a table and are dropped by `name ON table`.
fn is_table_child_kind(kind: i32) -> bool {
    use protobuf::ObjectType as O;
    [O::ObjectPolicy, O::ObjectTrigger, O::ObjectRule]
        .iter()
        .any(|k| *k as i32 == kind)
}

/// Object kinds that live in `pg_class`.
fn is_relation_kind(kind: i32) -> bool {
    use protobuf::ObjectType as O;
    [
        O::ObjectTable,
        O::ObjectIndex,
        O::ObjectSequence,
        O::ObjectView,
        O::ObjectMatview,
        O::ObjectForeignTable,
    ]
    .iter()
    .any(|k| *k as i32 == kind)
}

#[cfg(test)]
mod tests {
    use crate::split;

    #[test]
    fn type_changes_carry_the_new_type_and_the_using_expression() {
        let s = split("ALTER TABLE public.t ALTER COLUMN a TYPE numeric(10,0), ALTER COLUMN \"B\" TYPE varchar(3) USING left(\"B\", 3), ADD COLUMN c int;").unwrap();
        let changes = s[0].type_changes();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].table.to_string(), "public.t");
        assert_eq!(changes[0].column, "a");
        assert_eq!(changes[0].new_value_sql, "a::numeric(10, 0)");
        assert_eq!(changes[0].new_type_sql, "numeric(10, 0)");
        assert_eq!(changes[1].column, "B");
        assert_eq!(changes[1].new_value_sql, "\"left\"(\"B\", 3)::varchar(3)");
        assert!(split("ALTER TABLE t ADD COLUMN x int").unwrap()[0]
            .type_changes()
            .is_empty());
    }

    #[test]
    fn data_targets_name_what_a_statement_destroys() {
        let targets = |sql: &str| -> Vec<String> {
            split(sql).unwrap()[0]
                .data_targets()
                .iter()
                .map(|t| {
                    format!(
                        "{}{}",
                        t.table,
                        t.column
                            .as_deref()
                            .map(|c| format!(".{c}"))
                            .unwrap_or_default()
                    )
                })
                .collect()
        };
        assert_eq!(
            targets("DROP TABLE IF EXISTS public.a, b CASCADE"),
            ["public.a", "b"]
        );
        assert_eq!(
            targets("ALTER TABLE public.t DROP COLUMN x, ADD COLUMN y int NOT NULL"),
            ["public.t.x", "public.t"]
        );
        assert_eq!(targets("TRUNCATE a, public.b"), ["a", "public.b"]);
        assert_eq!(targets("DELETE FROM public.a"), ["public.a"]);
        assert!(targets("DROP SCHEMA s CASCADE").is_empty());
    }

    #[test]
    fn an_update_probe_reads_the_rows_it_matches() {
        let p =
            split("UPDATE public.orders o SET email = NULL, note = upper(note) WHERE o.id <= 7;")
                .unwrap()[0]
                .update_probe()
                .unwrap();
        assert_eq!(p.table.to_string(), "public.orders");
        assert_eq!(p.columns, ["email", "note"]);
        assert_eq!(
            p.sql,
            "SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE pg_catalog.num_nonnulls(o.email) OPERATOR(pg_catalog.=) 1 \
             AND pg_catalog.num_nonnulls((NULL)) OPERATOR(pg_catalog.=) 0), \
             pg_catalog.count(*) FILTER (WHERE pg_catalog.num_nonnulls(o.note) OPERATOR(pg_catalog.=) 1 \
             AND pg_catalog.num_nonnulls((upper(note))) OPERATOR(pg_catalog.=) 0) \
             FROM public.orders o WHERE o.id <= 7"
        );
        // What could answer differently in the probe than in the UPDATE is not probed.
        for sql in [
            "UPDATE t SET (a, b) = (SELECT 1, 2)",
            "UPDATE t SET a = DEFAULT",
            "UPDATE t SET a = NULL FROM u WHERE u.id = t.id",
            "UPDATE t SET a = CASE WHEN current_setting('search_path') LIKE 'pg%' THEN a END",
            "UPDATE t SET a = nextval('s')",
            "UPDATE t SET a = public.lower(a)",
            "UPDATE t SET a = NULL WHERE id IN (SELECT id FROM u)",
        ] {
            assert!(split(sql).unwrap()[0].update_probe().is_none(), "{sql}");
        }
    }

    #[test]
    fn named_relations_cover_every_way_a_statement_names_a_relation() {
        let names = |sql: &str| -> Vec<String> {
            let mut names: Vec<String> = split(sql).unwrap()[0]
                .named_relations()
                .iter()
                .map(|n| n.to_string())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names("DELETE FROM a.t USING u WHERE u.id = t.id"),
            ["a.t", "u"]
        );
        assert_eq!(names("DROP TABLE x, s.y CASCADE"), ["s.y", "x"]);
        assert_eq!(names("DROP INDEX CONCURRENTLY IF EXISTS s.i"), ["s.i"]);
        assert_eq!(
            names("GRANT SELECT ON public.p, q TO anon"),
            ["public.p", "q"]
        );
        assert_eq!(names("ALTER TABLE t RENAME TO t2"), ["t"]);
        assert_eq!(names("ALTER TABLE t SET SCHEMA archive"), ["t"]);
        assert_eq!(
            names("CREATE TABLE c (id int REFERENCES p (id))"),
            ["c", "p"]
        );
        assert_eq!(
            names("CREATE TRIGGER g AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()"),
            ["t"]
        );
        assert_eq!(
            names("CREATE TABLE part_2 PARTITION OF s.parent FOR VALUES IN (2)"),
            ["part_2", "s.parent"]
        );
        assert_eq!(
            names("ALTER TABLE p ATTACH PARTITION c FOR VALUES IN (1)"),
            ["c", "p"]
        );
        assert_eq!(
            names("ALTER TABLE c ADD CONSTRAINT f FOREIGN KEY (x) REFERENCES p"),
            ["c", "p"]
        );
        assert_eq!(
            names("CREATE POLICY p ON s.t FOR SELECT USING (true)"),
            ["s.t"]
        );
        assert_eq!(names("DROP POLICY IF EXISTS p ON s.t"), ["s.t"]);
        assert_eq!(names("DROP TRIGGER g ON t"), ["t"]);
        assert!(names("DROP FUNCTION f(int)").is_empty());
        assert!(names("SELECT 1").is_empty());
    }

    #[test]
    fn statements_that_reach_tables_without_naming_or_locking_them() {
        let wide = |sql: &str| split(sql).unwrap()[0].reaches_unnamed();
        for sql in [
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO anon",
            "GRANT service_role TO anon",
            "DROP OWNED BY app",
            "REASSIGN OWNED BY app TO postgres",
            "ALTER SCHEMA public RENAME TO old",
            "DROP SCHEMA app CASCADE",
            "DROP TYPE mood CASCADE",
            "DROP EXTENSION hstore CASCADE",
        ] {
            assert!(wide(sql), "{sql}");
        }
        for sql in [
            "GRANT SELECT ON public.t TO anon",
            "DROP TABLE t CASCADE",
            "DROP SCHEMA app",
            "ALTER TABLE t RENAME TO u",
            "DELETE FROM t",
        ] {
            assert!(!wide(sql), "{sql}");
        }
    }

    #[test]
    fn updated_tables_include_merge_upserts_and_ctes() {
        let names = |sql: &str| -> Vec<String> {
            split(sql).unwrap()[0]
                .updated_tables()
                .iter()
                .map(|n| n.to_string())
                .collect()
        };
        assert_eq!(names("UPDATE public.a SET x = NULL"), ["public.a"]);
        assert_eq!(
            names("WITH u AS (UPDATE b SET x = 1 RETURNING *) SELECT * FROM u"),
            ["b"]
        );
        assert_eq!(
            names("INSERT INTO c VALUES (1) ON CONFLICT (id) DO UPDATE SET x = 2"),
            ["c"]
        );
        assert!(names("INSERT INTO c VALUES (1) ON CONFLICT DO NOTHING").is_empty());
        assert_eq!(
            names("MERGE INTO d USING e ON d.id = e.id WHEN MATCHED THEN UPDATE SET x = e.x"),
            ["d"]
        );
    }
}
