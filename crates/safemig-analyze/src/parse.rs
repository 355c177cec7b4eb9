//! Splitting a migration file into statements with PostgreSQL's own parser.
//!
//! The statement texts are cut exactly the way the Supabase CLI cuts them
//! (everything after the previous top-level `;` up to and including the next one,
//! then the trailing `;` and surrounding white space trimmed), so that the
//! `statements` column safemig writes to `supabase_migrations.schema_migrations`
//! is the one `supabase migration list` and `supabase db push` would write. Where
//! the boundaries are, however, is decided by libpg_query, not by a hand-written
//! tokenizer: a `;` inside a dollar-quoted body or a `BEGIN ATOMIC` block never
//! splits a statement.

use pg_query::protobuf::{self, Token};
use pg_query::NodeEnum;

/// One statement of a migration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The statement text as the Supabase CLI records it (leading comments kept,
    /// trailing `;` and white space trimmed).
    pub text: String,
    /// Byte offset of `text` in the file.
    pub offset: usize,
    /// 1-based line and column (in characters) of the first character of `text`.
    pub line: usize,
    pub column: usize,
    /// Byte offset and line of the statement's first token after any leading comments,
    /// the place a person should look at.
    pub code_offset: usize,
    pub code_line: usize,
    pub code_column: usize,
    /// The parse-tree node name, e.g. `CreateStmt`; `None` for a comment-only
    /// fragment that the Supabase CLI records but PostgreSQL ignores.
    pub kind: Option<String>,
    /// How the statement relates to transactions.
    pub transaction: TxBehaviour,
    /// Tables this statement empties with `TRUNCATE` (schema may be empty when unqualified),
    /// and whether the truncate cascades.
    pub truncates: Vec<QualifiedName>,
    pub truncate_cascades: bool,
    /// Tables whose storage this statement may rewrite while keeping every row
    /// (`ALTER TABLE`, `CLUSTER`, `VACUUM FULL`, `REINDEX`).
    pub rewrites: Vec<QualifiedName>,
    /// The parse tree of the statement (`None` for a comment-only fragment),
    /// protobuf-encoded: a decoded tree takes a hundred times the statement's text,
    /// an encoded one a few times. [`Statement::node`] decodes it.
    tree: Option<Vec<u8>>,
}

/// Byte offset in `text` of its first token that is not a comment.
fn first_code(text: &str) -> Option<usize> {
    // PostgreSQL's white space, not Unicode's.
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0c']);
    if !trimmed.starts_with("--") && !trimmed.starts_with("/*") {
        return Some(text.len() - trimmed.len());
    }
    pg_query::scan(text)
        .ok()?
        .tokens
        .iter()
        .find(|t| t.token != Token::SqlComment as i32 && t.token != Token::CComment as i32)
        .map(|t| t.start as usize)
}

fn encode_tree(node: NodeEnum) -> Vec<u8> {
    use pg_query::protobuf::Node;
    prost::Message::encode_to_vec(&Node { node: Some(node) })
}

impl Statement {
    /// The statement's parse tree (`None` for a comment-only fragment).
    pub fn node(&self) -> Option<NodeEnum> {
        let bytes = self.tree.as_deref()?;
        <pg_query::protobuf::Node as prost::Message>::decode(bytes)
            .ok()
            .and_then(|n| n.node)
    }

    /// A `CREATE INDEX ... USING <method> ... WITH (options)` of one of `methods`,
    /// as SQL without its `WITH (...)`, and the options' names; `None` for any
    /// other statement. For throwaway servers where that index method is a stand-in
    /// that takes no options (pgvector's `hnsw (m = 16)`, say).
    pub fn without_index_options(&self, methods: &[&str]) -> Option<(String, Vec<String>)> {
        let NodeEnum::IndexStmt(mut index) = self.node()? else {
            return None;
        };
        if index.options.is_empty() || !methods.contains(&index.access_method.as_str()) {
            return None;
        }
        let names = index
            .options
            .iter()
            .filter_map(|o| match &o.node {
                Some(NodeEnum::DefElem(d)) => Some(d.defname.clone()),
                _ => None,
            })
            .collect();
        index.options.clear();
        let sql = NodeEnum::IndexStmt(index)
            .deparse(Default::default())
            .ok()?;
        Some((sql, names))
    }

    /// Whether the statement is one PostgreSQL runs (not a comment-only fragment).
    pub fn has_node(&self) -> bool {
        self.tree.is_some()
    }

    /// Line and column (1-based, in characters) of byte `offset` of the file `sql`,
    /// an offset inside this statement: counted from the statement's own start, so
    /// that placing every finding of a file costs what the statements' text does,
    /// not the file's length for each.
    pub fn position_of(&self, sql: &str, offset: usize) -> (usize, usize) {
        if offset < self.offset || offset > sql.len() {
            return line_col(sql, offset);
        }
        let offset = floor_char_boundary(sql, offset);
        let between = &sql[self.offset..offset];
        match between.rfind('\n') {
            Some(last) => (
                self.line + between.matches('\n').count(),
                between[last + 1..].chars().count() + 1,
            ),
            None => (self.line, self.column + between.chars().count()),
        }
    }

    /// For `CREATE INDEX`: the name of the table the index is on.
    pub fn index_table(&self) -> Option<String> {
        match self.node() {
            Some(NodeEnum::IndexStmt(s)) => s.relation.map(|r| r.relname),
            _ => None,
        }
    }
}

/// Whether a statement can run inside safemig's per-migration transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxBehaviour {
    /// Ordinary statement: runs inside the migration's transaction.
    Transactional,
    /// Cannot run inside a transaction block (e.g. `CREATE INDEX CONCURRENTLY`):
    /// it must run on its own. The string says which construct it is.
    MustRunAlone(String),
    /// The file's own `BEGIN`/`START TRANSACTION`/`COMMIT`/`END`: safemig's
    /// transaction replaces them, so they are not sent.
    FileTransactionControl(String),
    /// Transaction control that would break safemig's transaction
    /// (`ROLLBACK`, `PREPARE TRANSACTION`, `COMMIT` in the middle of a file, ...).
    Forbidden(String),
}

/// `schema.name`, with `schema` empty when the SQL did not qualify it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl std::fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.schema.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}.{}", self.schema, self.name)
        }
    }
}

/// A syntax error as PostgreSQL's parser reports it, placed in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    /// Byte offset in the file, when the parser gave a position.
    pub offset: Option<usize>,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (line {}, column {})",
            self.message, self.line, self.column
        )
    }
}

/// Something in a file that only psql understands: a meta-command (`\connect`,
/// `\restrict`, `\set`, ...) or the inline data of `COPY ... FROM stdin`. Supabase
/// and `pg_dump` output contain them; the server (and every migration tool that
/// talks to it through a driver, the Supabase CLI included) cannot run them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSide {
    pub line: usize,
    /// The meta-command line, or `COPY` for a data section.
    pub text: String,
    pub kind: ClientSideKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSideKind {
    MetaCommand,
    /// `COPY ... FROM stdin;` followed by data lines up to `\.`.
    CopyData,
}

/// A file read as far as PostgreSQL's parser can read it.
#[derive(Debug, Clone, Default)]
pub struct ParsedFile {
    pub statements: Vec<Statement>,
    /// psql-only parts, set aside (blanked) so the SQL around them could be parsed.
    pub client_side: Vec<ClientSide>,
    /// The first syntax error; `statements` is then empty.
    pub error: Option<SyntaxError>,
}

/// Reads a whole file: statements when it parses; psql meta-commands and `COPY`
/// data set aside (only when the file does not parse as it is, so SQL text that
/// merely looks like a meta-command inside a string is never touched); or the
/// syntax error.
pub fn parse_file(sql: &str) -> ParsedFile {
    match split_sql(sql) {
        Ok(statements) => ParsedFile {
            statements,
            ..Default::default()
        },
        Err(error) => {
            let (blanked, client_side) = blank_client_side(sql);
            if client_side.is_empty() {
                return ParsedFile {
                    error: Some(error),
                    ..Default::default()
                };
            }
            match split_sql(&blanked) {
                Ok(statements) => ParsedFile {
                    statements,
                    client_side,
                    error: None,
                },
                Err(error) => ParsedFile {
                    client_side,
                    error: Some(error),
                    ..Default::default()
                },
            }
        }
    }
}

/// Splits `sql` into statements for running them. A file PostgreSQL's grammar
/// rejects yields the parser's message with the line and column it points at; a
/// psql meta-command or `COPY ... FROM stdin` data is an error too, since the
/// server cannot run it.
pub fn split(sql: &str) -> Result<Vec<Statement>, SyntaxError> {
    let parsed = parse_file(sql);
    if let Some(first) = parsed.client_side.first() {
        return Err(SyntaxError {
            message: client_side_message(first),
            offset: None,
            line: first.line,
            column: 1,
        });
    }
    match parsed.error {
        Some(error) => Err(error),
        None => Ok(parsed.statements),
    }
}

/// What to tell a person about a psql-only part of a file.
pub fn client_side_message(part: &ClientSide) -> String {
    match part.kind {
        ClientSideKind::MetaCommand => format!(
            "`{}` is a psql meta-command: PostgreSQL cannot run it, and neither can a migration tool \
             (the Supabase CLI fails on it too); remove it from the migration",
            part.text
        ),
        ClientSideKind::CopyData => "`COPY ... FROM stdin` with inline data needs psql to send the data: \
             PostgreSQL cannot run it from a migration; use INSERT statements, or load the data with psql"
            .to_string(),
    }
}

/// Replaces psql meta-command lines and `COPY ... FROM stdin` data lines with
/// spaces (same byte length, so every offset and line number stays true).
fn blank_client_side(sql: &str) -> (String, Vec<ClientSide>) {
    let mut out = String::with_capacity(sql.len());
    let mut found = Vec::new();
    let mut in_copy = false;
    for (index, line) in sql.split_inclusive('\n').enumerate() {
        let content = line.trim_end_matches(['\n', '\r']);
        let blank = |out: &mut String| {
            out.extend(content.bytes().map(|_| ' '));
            out.push_str(&line[content.len()..]);
        };
        if in_copy {
            in_copy = content != "\\.";
            blank(&mut out);
        } else if content.trim_start().starts_with('\\') {
            found.push(ClientSide {
                line: index + 1,
                text: content.trim().to_string(),
                kind: ClientSideKind::MetaCommand,
            });
            blank(&mut out);
        } else {
            let upper = content.trim().to_ascii_uppercase();
            if upper.starts_with("COPY ") && upper.contains(" FROM STDIN") && upper.ends_with(';') {
                found.push(ClientSide {
                    line: index + 1,
                    text: "COPY".into(),
                    kind: ClientSideKind::CopyData,
                });
                in_copy = true;
            }
            out.push_str(line);
        }
    }
    (out, found)
}

fn split_sql(sql: &str) -> Result<Vec<Statement>, SyntaxError> {
    if sql.contains('\0') {
        let offset = sql.find('\0').unwrap_or(0);
        let (line, column) = line_col(sql, offset);
        return Err(SyntaxError {
            message: "the file contains a NUL byte, which PostgreSQL never accepts in SQL text"
                .into(),
            offset: Some(offset),
            line,
            column,
        });
    }
    // Statement spans as the parser sees them, without building the file's parse
    // tree: a big dump's tree is a hundred times its size. Each statement is then
    // parsed alone, and its tree kept encoded (see `Statement::node`).
    let pieces = match pg_query::split_with_parser(sql) {
        Ok(pieces) => pieces,
        Err(err) => return Err(locate_error(sql, &err.to_string())),
    };
    let base = sql.as_ptr() as usize;
    let spans: Vec<(usize, usize, usize)> = pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let start = piece.as_ptr() as usize - base;
            let end = if piece.is_empty() {
                sql.len()
            } else {
                start + piece.len()
            };
            (start, end, i)
        })
        .collect();
    // Top-level separators: the `;` tokens between the parsed statements (a `;`
    // inside `BEGIN ATOMIC ... END` lies within its statement's span). Only the
    // gaps are scanned: the file's tokens all at once would be the peak of memory.
    let mut separators: Vec<usize> = Vec::new();
    let mut gap_start = 0usize;
    for &(start, end, _) in spans
        .iter()
        .chain(std::iter::once(&(sql.len(), sql.len(), 0)))
    {
        if start > gap_start {
            let gap = &sql[gap_start..start];
            if gap.contains(';') {
                let tokens = pg_query::scan(gap)
                    .map_err(|err| locate_error(sql, &err.to_string()))?
                    .tokens;
                separators.extend(
                    tokens
                        .iter()
                        .filter(|t| t.token == Token::Ascii59 as i32)
                        .map(|t| gap_start + t.start as usize),
                );
            }
        }
        gap_start = gap_start.max(end);
    }
    let lines = LineIndex::new(sql);

    let mut statements = Vec::new();
    let mut fragment_start = 0usize;
    let mut boundaries = separators.iter().map(|&p| (p, p + 1)).collect::<Vec<_>>();
    boundaries.push((sql.len(), sql.len()));
    for (cut, next_start) in boundaries {
        let fragment = &sql[fragment_start..cut];
        let trimmed_start = fragment.len() - fragment.trim_start().len();
        let text = fragment.trim();
        if !text.is_empty() {
            let offset = fragment_start + trimmed_start;
            // The first span that ends after the fragment starts, if it starts before it ends.
            let raw = spans
                .get(spans.partition_point(|&(_, e, _)| e <= offset))
                .filter(|&&(s, _, _)| s < cut)
                .map(|&(_, _, raw)| raw);
            let code_offset = first_code(&sql[offset..cut])
                .map(|at| offset + at)
                .unwrap_or(offset);
            let (line, column) = lines.locate(sql, offset);
            let (code_line, code_column) = lines.locate(sql, code_offset);
            let mut statement = Statement {
                text: text.to_string(),
                offset,
                line,
                column,
                code_offset,
                code_line,
                code_column,
                kind: None,
                transaction: TxBehaviour::Transactional,
                truncates: Vec::new(),
                truncate_cascades: false,
                rewrites: Vec::new(),
                tree: None,
            };
            if let Some(i) = raw {
                let (start, end, _) = spans[i];
                let parsed = pg_query::parse(&sql[start..end], pg_query::ParserOptions::default())
                    .map_err(|err| locate_error(sql, &err.to_string()))?;
                let node = parsed
                    .protobuf
                    .stmts
                    .into_iter()
                    .next()
                    .and_then(|raw| raw.stmt)
                    .and_then(|n| n.node);
                if let Some(node) = node {
                    describe(&node, &mut statement);
                    statement.tree = Some(encode_tree(node));
                }
            }
            statements.push(statement);
        }
        fragment_start = next_start;
    }
    place_transaction_control(&mut statements);
    Ok(statements)
}

/// A file's own `BEGIN ... COMMIT` blocks are harmless where they do not nest:
/// safemig runs the whole file in one transaction, which keeps each block atomic
/// (Supabase projects write them so that `LOCK TABLE` has a transaction when a
/// file's statements run one by one). A `COMMIT` with no open block is harmless
/// only as the last statement; anywhere else it would end safemig's transaction
/// early, and a `BEGIN` inside an open block would nest one.
fn place_transaction_control(statements: &mut [Statement]) {
    let last = statements.iter().rposition(|s| s.kind.is_some());
    let mut open = false;
    // A value added to an enum cannot be used before the transaction that added
    // it commits: a file that commits after `ALTER TYPE ... ADD VALUE` means it.
    let mut added_enum_value = false;
    for (i, statement) in statements.iter_mut().enumerate() {
        if statement.kind.as_deref() == Some("AlterEnumStmt")
            && statement.text.to_lowercase().contains("add value")
        {
            added_enum_value = true;
        }
        let TxBehaviour::FileTransactionControl(what) = &statement.transaction else {
            continue;
        };
        let is_commit = !(what == "BEGIN" || what == "START TRANSACTION");
        if is_commit && added_enum_value && Some(i) != last {
            let what = what.clone();
            statement.transaction = TxBehaviour::Forbidden(format!(
                "{what} after ALTER TYPE ... ADD VALUE: the file relies on the new value being committed before \
                 it is used, which one transaction cannot give; split the file into two migrations at this {what}"
            ));
            continue;
        }
        let is_begin = what == "BEGIN" || what == "START TRANSACTION";
        let allowed = if is_begin {
            !std::mem::replace(&mut open, true)
        } else {
            std::mem::replace(&mut open, false) || Some(i) == last
        };
        if !allowed {
            let what = what.clone();
            statement.transaction = TxBehaviour::Forbidden(format!(
                "{what} {} would end or nest safemig's transaction",
                if is_begin {
                    "inside the file's own open BEGIN block"
                } else {
                    "with no BEGIN of the file's before it, in the middle of a migration,"
                }
            ));
        }
    }
}

fn describe(node: &NodeEnum, statement: &mut Statement) {
    let kind = node_name(node);
    statement.kind = Some(kind);
    use protobuf::TransactionStmtKind as K;
    statement.transaction = match node {
        NodeEnum::IndexStmt(s) if s.concurrent => {
            TxBehaviour::MustRunAlone("CREATE INDEX CONCURRENTLY".into())
        }
        NodeEnum::DropStmt(s) if s.concurrent => {
            TxBehaviour::MustRunAlone("DROP INDEX CONCURRENTLY".into())
        }
        NodeEnum::ReindexStmt(s) if has_option(&s.params, "concurrently") => {
            TxBehaviour::MustRunAlone("REINDEX CONCURRENTLY".into())
        }
        // REINDEX of a whole schema, database or system commits index by index.
        NodeEnum::ReindexStmt(s)
            if [
                protobuf::ReindexObjectType::ReindexObjectSchema as i32,
                protobuf::ReindexObjectType::ReindexObjectDatabase as i32,
                protobuf::ReindexObjectType::ReindexObjectSystem as i32,
            ]
            .contains(&s.kind) =>
        {
            TxBehaviour::MustRunAlone("REINDEX SCHEMA / DATABASE / SYSTEM".into())
        }
        NodeEnum::AlterTableStmt(s) if detaches_concurrently(s) => {
            TxBehaviour::MustRunAlone("DETACH PARTITION CONCURRENTLY".into())
        }
        // Unless it neither connects nor makes a slot, it makes one on the publisher.
        NodeEnum::CreateSubscriptionStmt(s)
            if !option_is_false(&s.options, "connect")
                && !option_is_false(&s.options, "create_slot") =>
        {
            TxBehaviour::MustRunAlone("CREATE SUBSCRIPTION".into())
        }
        NodeEnum::DropSubscriptionStmt(_) => TxBehaviour::MustRunAlone("DROP SUBSCRIPTION".into()),
        NodeEnum::DiscardStmt(s) if s.target == protobuf::DiscardMode::DiscardAll as i32 => {
            TxBehaviour::MustRunAlone("DISCARD ALL".into())
        }
        NodeEnum::VacuumStmt(s) if s.is_vacuumcmd => TxBehaviour::MustRunAlone("VACUUM".into()),
        NodeEnum::CreatedbStmt(_) => TxBehaviour::MustRunAlone("CREATE DATABASE".into()),
        NodeEnum::DropdbStmt(_) => TxBehaviour::MustRunAlone("DROP DATABASE".into()),
        NodeEnum::CreateTableSpaceStmt(_) => TxBehaviour::MustRunAlone("CREATE TABLESPACE".into()),
        NodeEnum::DropTableSpaceStmt(_) => TxBehaviour::MustRunAlone("DROP TABLESPACE".into()),
        NodeEnum::AlterSystemStmt(_) => TxBehaviour::MustRunAlone("ALTER SYSTEM".into()),
        NodeEnum::ClusterStmt(s) if s.relation.is_none() => {
            TxBehaviour::MustRunAlone("CLUSTER without a table".into())
        }
        NodeEnum::TransactionStmt(s) => match K::try_from(s.kind).unwrap_or(K::Undefined) {
            K::TransStmtBegin => TxBehaviour::FileTransactionControl("BEGIN".into()),
            K::TransStmtStart => TxBehaviour::FileTransactionControl("START TRANSACTION".into()),
            K::TransStmtCommit if !s.chain => TxBehaviour::FileTransactionControl("COMMIT".into()),
            K::TransStmtSavepoint | K::TransStmtRelease | K::TransStmtRollbackTo => {
                TxBehaviour::Transactional
            }
            K::TransStmtRollback => TxBehaviour::Forbidden(
                "ROLLBACK would abort safemig's transaction; a migration cannot roll itself back"
                    .into(),
            ),
            _ => TxBehaviour::Forbidden(
                "two-phase or chained transaction control cannot run inside safemig's transaction"
                    .into(),
            ),
        },
        _ => TxBehaviour::Transactional,
    };
    match node {
        NodeEnum::TruncateStmt(s) => {
            statement.truncates = s.relations.iter().filter_map(range_var_of).collect();
            statement.truncate_cascades = s.behavior == protobuf::DropBehavior::DropCascade as i32;
        }
        NodeEnum::AlterTableStmt(s) => {
            statement.rewrites = s.relation.iter().map(qualified).collect()
        }
        NodeEnum::ClusterStmt(s) => statement.rewrites = s.relation.iter().map(qualified).collect(),
        NodeEnum::VacuumStmt(s) => {
            statement.rewrites = s
                .rels
                .iter()
                .filter_map(|n| match n.node.as_ref() {
                    Some(NodeEnum::VacuumRelation(v)) => v.relation.as_ref().map(qualified),
                    _ => None,
                })
                .collect()
        }
        _ => {}
    }
}

/// `ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY`: it commits half-way.
fn detaches_concurrently(s: &protobuf::AlterTableStmt) -> bool {
    s.cmds.iter().any(|c| match c.node.as_ref() {
        Some(NodeEnum::AlterTableCmd(cmd)) => matches!(
            cmd.def.as_ref().and_then(|d| d.node.as_ref()),
            Some(NodeEnum::PartitionCmd(p)) if p.concurrent
        ),
        _ => false,
    })
}

/// `WITH (name = false)` (or `off`, `0`) among `options`.
fn option_is_false(options: &[protobuf::Node], name: &str) -> bool {
    options.iter().any(|o| match o.node.as_ref() {
        Some(NodeEnum::DefElem(d)) if d.defname == name => {
            let value = match d.arg.as_ref().and_then(|a| a.node.as_ref()) {
                Some(NodeEnum::String(v)) => v.sval.to_lowercase(),
                Some(NodeEnum::Boolean(b)) => b.boolval.to_string(),
                Some(NodeEnum::Integer(i)) => i.ival.to_string(),
                _ => String::new(),
            };
            matches!(value.as_str(), "false" | "off" | "0" | "no")
        }
        _ => false,
    })
}

fn has_option(params: &[protobuf::Node], name: &str) -> bool {
    params
        .iter()
        .any(|p| matches!(p.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == name))
}

fn range_var_of(node: &protobuf::Node) -> Option<QualifiedName> {
    match node.node.as_ref() {
        Some(NodeEnum::RangeVar(r)) => Some(qualified(r)),
        _ => None,
    }
}

fn qualified(r: &protobuf::RangeVar) -> QualifiedName {
    QualifiedName {
        schema: r.schemaname.clone(),
        name: r.relname.clone(),
    }
}

/// `IndexStmt`, `CreateStmt`, ...: the node's type name, stable across versions of the crate.
pub(crate) fn node_name(node: &NodeEnum) -> String {
    // The variant's name is the start of its Debug text. Formatting the whole tree
    // to read one word cost more than parsing it: stop writing at the first `(`.
    struct UntilParen(String);
    impl std::fmt::Write for UntilParen {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            match s.find(['(', ' ', '{']) {
                Some(i) => {
                    self.0.push_str(&s[..i]);
                    Err(std::fmt::Error)
                }
                None => {
                    self.0.push_str(s);
                    Ok(())
                }
            }
        }
    }
    let mut name = UntilParen(String::new());
    let _ = std::fmt::write(&mut name, format_args!("{node:?}"));
    if name.0.is_empty() {
        "Unknown".to_string()
    } else {
        name.0
    }
}

/// 1-based line and column (in characters) of a byte offset.
/// Where each line of a text starts: line and column of any offset by binary
/// search, after one pass over the text.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(src: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of byte `offset` of `src`, the
    /// text this index was made from.
    pub fn locate(&self, src: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(src, offset.min(src.len()));
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line, src[start..offset].chars().count() + 1)
    }

    /// The text of 1-based line `line`, without its line break.
    pub fn line<'a>(&self, src: &'a str, line: usize) -> Option<&'a str> {
        if src.is_empty() {
            return None;
        }
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let end = self.starts.get(line).map_or(src.len(), |&next| next - 1);
        Some(src[start..end].trim_end_matches('\r'))
    }
}

/// Line and column of one offset, counted from the start: for a single place
/// (an error). Many places in one text: [`LineIndex`].
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(src, offset.min(src.len()));
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Turns a parser message into an error placed in the file, using libpg_query's
/// cursor position (which the `pg_query` crate does not pass on).
fn locate_error(sql: &str, fallback_message: &str) -> SyntaxError {
    let (message, cursor) =
        raw_parse_error(sql).unwrap_or_else(|| (fallback_message.to_string(), 0));
    let offset = if cursor > 0 {
        sql.char_indices().nth(cursor - 1).map(|(i, _)| i)
    } else {
        None
    };
    let (line, column) = line_col(sql, offset.unwrap_or(0));
    SyntaxError {
        message,
        offset,
        line,
        column,
    }
}

pub(crate) mod ffi_error {
    use std::os::raw::{c_char, c_int};

    #[repr(C)]
    pub struct PgQueryError {
        pub message: *mut c_char,
        pub funcname: *mut c_char,
        pub filename: *mut c_char,
        pub lineno: c_int,
        pub cursorpos: c_int,
        pub context: *mut c_char,
    }
}

mod ffi {
    use std::os::raw::{c_char, c_int};

    pub use super::ffi_error::PgQueryError;

    #[repr(C)]
    pub struct PgQuerySplitResult {
        pub stmts: *mut *mut std::ffi::c_void,
        pub n_stmts: c_int,
        pub stderr_buffer: *mut c_char,
        pub error: *mut PgQueryError,
    }

    extern "C" {
        // Declared in libpg_query's pg_query.h; the library is linked by the pg_query crate.
        pub fn pg_query_split_with_parser(input: *const c_char) -> PgQuerySplitResult;
        pub fn pg_query_free_split_result(result: PgQuerySplitResult);
    }
}

/// The parser's message and 1-based character cursor for `sql`, if it fails.
fn raw_parse_error(sql: &str) -> Option<(String, usize)> {
    let input = std::ffi::CString::new(sql).ok()?;
    // SAFETY: libpg_query's documented API: the result is freed exactly once
    // below, and the strings are copied out before that.
    unsafe {
        let result = ffi::pg_query_split_with_parser(input.as_ptr());
        let out = if result.error.is_null() {
            None
        } else {
            let err = &*result.error;
            let message = std::ffi::CStr::from_ptr(err.message)
                .to_string_lossy()
                .into_owned();
            Some((message, err.cursorpos.max(0) as usize))
        };
        ffi::pg_query_free_split_result(result);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        split(sql).unwrap().into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn splits_like_the_supabase_cli_keeping_leading_comments() {
        let sql = "-- create\ncreate table a (id int);\n\n/* b */ insert into a values (1);\n-- trailing note\n";
        assert_eq!(
            texts(sql),
            vec![
                "-- create\ncreate table a (id int)",
                "/* b */ insert into a values (1)",
                "-- trailing note"
            ]
        );
    }

    #[test]
    fn dollar_quotes_and_begin_atomic_do_not_split() {
        let sql = "create function f() returns int language plpgsql as $$ begin return 1; end; $$;\n\
                   create function g() returns int language sql begin atomic select 1; select 2; end;\n\
                   do $do$ begin perform 1; end $do$;";
        let statements = split(sql).unwrap();
        assert_eq!(statements.len(), 3);
        assert!(statements[1].text.ends_with("select 2; end"));
        assert_eq!(statements[2].kind.as_deref(), Some("DoStmt"));
        assert_eq!(statements[1].line, 2);
    }

    #[test]
    fn empty_statements_are_dropped() {
        assert_eq!(texts(";;select 1;;"), vec!["select 1"]);
        assert!(texts("  \n-- \n").len() == 1);
        assert!(texts("").is_empty());
    }

    #[test]
    fn syntax_error_is_placed_on_its_line() {
        let err = split("select 1;\n\ncreate tabel x (id int);\n").unwrap_err();
        assert!(
            err.message.contains("syntax error at or near \"tabel\""),
            "{}",
            err.message
        );
        assert_eq!((err.line, err.column), (3, 8));
    }

    #[test]
    fn detects_statements_that_cannot_run_in_a_transaction() {
        let s = split("create index concurrently i on t (a);\ncreate index j on t (b);\nvacuum t;\nanalyze t;")
            .unwrap();
        assert_eq!(
            s[0].transaction,
            TxBehaviour::MustRunAlone("CREATE INDEX CONCURRENTLY".into())
        );
        assert_eq!(s[1].transaction, TxBehaviour::Transactional);
        assert_eq!(s[2].transaction, TxBehaviour::MustRunAlone("VACUUM".into()));
        assert_eq!(s[3].transaction, TxBehaviour::Transactional);
    }

    #[test]
    fn file_begin_commit_is_replaced_but_rollback_is_forbidden() {
        let s = split("begin;\ncreate table a (id int);\ncommit;").unwrap();
        assert!(matches!(
            s[0].transaction,
            TxBehaviour::FileTransactionControl(_)
        ));
        assert!(matches!(
            s[2].transaction,
            TxBehaviour::FileTransactionControl(_)
        ));
        let s = split("create table a (id int);\ncommit;\ncreate table b (id int);").unwrap();
        assert!(matches!(s[1].transaction, TxBehaviour::Forbidden(_)));
        let s = split("begin;\nrollback;").unwrap();
        assert!(matches!(s[1].transaction, TxBehaviour::Forbidden(_)));
        // Blocks anywhere, one after another, are absorbed into safemig's transaction.
        let s = split("create table a (id int);\nbegin;\nlock table a;\ncommit;\ncreate table b (id int);\nbegin;\ncommit;")
            .unwrap();
        for i in [1, 3, 5, 6] {
            assert!(
                matches!(s[i].transaction, TxBehaviour::FileTransactionControl(_)),
                "{i}"
            );
        }
        // Nested, they are not.
        let s = split("begin;\nbegin;\ncommit;\ncommit;").unwrap();
        assert!(matches!(s[1].transaction, TxBehaviour::Forbidden(_)));
        // A COMMIT that lets a new enum value be used after it is meant: refused, not absorbed.
        let s = split(
            "alter type mood add value 'calm';\ncommit;\nbegin;\nupdate t set m = 'calm';\ncommit;",
        )
        .unwrap();
        assert!(
            matches!(&s[1].transaction, TxBehaviour::Forbidden(why) if why.contains("ADD VALUE")),
            "{:?}",
            s[1].transaction
        );
    }

    #[test]
    fn index_options_are_left_out_only_for_the_methods_asked() {
        let s = split(
            "create index d on public.docs using hnsw (embedding vector_cosine_ops) with (m = 16, ef_construction = 64);\n\
             create index b on public.docs (id) with (fillfactor = 70);",
        )
        .unwrap();
        let (sql, names) = s[0].without_index_options(&["hnsw", "ivfflat"]).unwrap();
        assert_eq!(names, ["m", "ef_construction"]);
        assert!(sql.contains("USING hnsw") && !sql.contains("WITH"), "{sql}");
        assert!(s[1].without_index_options(&["hnsw", "ivfflat"]).is_none());
    }

    #[test]
    fn truncate_targets_and_cascade() {
        let s = split("truncate public.a, b cascade;").unwrap();
        assert_eq!(s[0].truncates.len(), 2);
        assert_eq!(s[0].truncates[0].to_string(), "public.a");
        assert!(s[0].truncate_cascades);
    }

    #[test]
    fn psql_meta_commands_and_copy_data_are_set_aside_not_syntax_errors() {
        let dump = "\\restrict abc123\nSET statement_timeout = 0;\n\\connect app\n\
                    CREATE TABLE t (id int, name text);\n\
                    COPY public.t (id, name) FROM stdin;\n1\tone\n2\ttwo\n\\.\n\
                    SELECT 1;\n\\unrestrict abc123\n";
        let parsed = parse_file(dump);
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        let kinds: Vec<_> = parsed
            .client_side
            .iter()
            .map(|c| (c.line, c.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                (1, ClientSideKind::MetaCommand),
                (3, ClientSideKind::MetaCommand),
                (5, ClientSideKind::CopyData),
                (10, ClientSideKind::MetaCommand)
            ]
        );
        let names: Vec<_> = parsed
            .statements
            .iter()
            .filter_map(|s| s.kind.clone())
            .collect();
        assert_eq!(
            names,
            ["VariableSetStmt", "CreateStmt", "CopyStmt", "SelectStmt"]
        );
        assert_eq!(parsed.statements[3].line, 9);
        // Running it is another matter: split refuses, naming the line.
        let err = split(dump).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("psql meta-command"), "{}", err.message);
    }

    #[test]
    fn a_backslash_inside_a_string_is_left_alone() {
        let sql = "select 'a\n\\b';\n";
        let parsed = parse_file(sql);
        assert!(parsed.client_side.is_empty() && parsed.error.is_none());
        assert_eq!(parsed.statements[0].text, "select 'a\n\\b'");
    }

    #[test]
    fn nul_byte_is_an_error_not_a_panic() {
        assert!(split("select 1;\0").is_err());
    }
}
