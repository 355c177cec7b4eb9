//! One file through the rules: parse, gather file facts, run every rule over every
//! statement (and the statements inside `DO` blocks and PL/pgSQL functions),
//! apply inline suppressions and severity overrides, classify.

use std::collections::{BTreeMap, BTreeSet};

use pg_query::protobuf::{self, AlterTableType, TransactionStmtKind};
use pg_query::NodeEnum;
use serde::Serialize;

use crate::parse::{self, ClientSideKind, Statement, TxBehaviour};
use crate::plpgsql;
use crate::rules::{self, Ctx, FileFacts, Place, Severity};

/// What `check` may be told by the user (safemig.toml).
#[derive(Debug, Clone)]
pub struct LintOptions {
    /// Schemas the Supabase API exposes; `table-without-rls` looks there.
    pub exposed_schemas: Vec<String>,
    /// Rules turned off.
    pub ignore: BTreeSet<String>,
    /// Rules given another severity.
    pub severity: BTreeMap<String, Severity>,
}

impl LintOptions {
    /// The severity a finding of `rule` gets: the user's override, else `default`;
    /// `None` when the rule is turned off.
    pub fn severity_of(&self, rule: &str, default: Severity) -> Option<Severity> {
        if self.ignore.contains(rule) {
            None
        } else {
            Some(self.severity.get(rule).copied().unwrap_or(default))
        }
    }
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            exposed_schemas: vec!["public".into()],
            ignore: BTreeSet::new(),
            severity: BTreeMap::new(),
        }
    }
}

/// `safe`, `review` or `risky`: the worst finding's severity (hints leave it safe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Safe,
    Review,
    Risky,
}

impl Class {
    pub fn of<'a>(severities: impl IntoIterator<Item = &'a Severity>) -> Class {
        match severities.into_iter().max() {
            Some(Severity::Risky) => Class::Risky,
            Some(Severity::Review) => Class::Review,
            _ => Class::Safe,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Safe => "safe",
            Class::Review => "review",
            Class::Risky => "risky",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    pub line: usize,
    pub column: usize,
    /// Byte offset in the file of what the finding points at.
    #[serde(skip)]
    pub offset: usize,
    /// 1-based index of the top-level statement, when the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    /// `do-block` or `function-body` for findings inside PL/pgSQL code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inside: Option<&'static str>,
    /// `use-before-create` of an object the live database has (`check --db`): it
    /// breaks only on a fresh database (`supabase db reset`, branches, CI).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fresh_only: bool,
}

impl Finding {
    /// A finding at `line:column`, about no statement in particular; set the other
    /// fields with struct update syntax where they apply.
    pub fn new(
        rule: &str,
        severity: Severity,
        message: String,
        help: Option<String>,
        line: usize,
        column: usize,
    ) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            message,
            help,
            line,
            column,
            offset: 0,
            statement: None,
            inside: None,
            fresh_only: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StatementLint {
    /// 1-based, as the Supabase CLI counts statements.
    pub index: usize,
    pub line: usize,
    pub column: usize,
    pub kind: Option<String>,
    pub class: Class,
    /// Idempotent: `IF [NOT] EXISTS`, `OR REPLACE`, or inside a catalog test.
    /// Separate from safe: `DROP TABLE IF EXISTS` is guarded and still destructive.
    pub guarded: bool,
    pub findings: Vec<Finding>,
    /// Findings switched off by an inline `-- safemig:ignore RULE reason` comment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppressed>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Suppressed {
    pub rule: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileLint {
    pub class: Class,
    /// Findings about the file as a whole (syntax errors, psql commands).
    pub findings: Vec<Finding>,
    pub statements: Vec<StatementLint>,
    #[serde(skip)]
    pub parsed: parse::ParsedFile,
}

impl FileLint {
    /// Every finding, file-level first, then statement by statement.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .chain(self.statements.iter().flat_map(|s| s.findings.iter()))
    }
}

pub fn lint_file(sql: &str, options: &LintOptions) -> FileLint {
    let parsed = parse::parse_file(sql);
    let mut file_findings = Vec::new();
    for part in &parsed.client_side {
        let help = match part.kind {
            ClientSideKind::MetaCommand => "remove the line",
            ClientSideKind::CopyData => "turn the data into INSERT statements",
        };
        file_findings.push(Finding {
            offset: offset_of_line(sql, part.line),
            ..Finding::new(
                "psql-meta-command",
                Severity::Risky,
                parse::client_side_message(part),
                Some(help.into()),
                part.line,
                1,
            )
        });
    }
    if let Some(error) = &parsed.error {
        let help =
            "PostgreSQL's parser rejects this; nothing in the file can run until it is fixed";
        file_findings.push(Finding {
            offset: error.offset.unwrap_or(0),
            ..Finding::new(
                "syntax-error",
                Severity::Risky,
                error.message.clone(),
                Some(help.into()),
                error.line,
                error.column,
            )
        });
    }
    let facts = file_facts(&parsed.statements, options);
    let mut statements = Vec::new();
    for (index, statement) in parsed.statements.iter().enumerate() {
        let tree = statement.node();
        let Some(node) = tree.as_ref() else {
            continue;
        };
        let mut findings = Vec::new();
        if let TxBehaviour::Forbidden(why) = &statement.transaction {
            findings.push(finding_at(
                statement,
                index,
                "transaction-control",
                Severity::Risky,
                why.clone(),
                None,
                None,
            ));
        }
        let ctx = Ctx {
            node,
            text: &statement.text,
            index,
            place: Place::TopLevel,
            guarded_by_catalog_test: false,
            file: &facts,
        };
        run_rules(&ctx, sql, statement, None, &mut findings, options);
        let embedded_guarded =
            lint_embedded(sql, statement, index, node, &facts, options, &mut findings);
        let suppressions = suppressions(statement);
        let mut suppressed = Vec::new();
        findings.retain(|f| {
            match suppressions
                .iter()
                .find(|(rule, _)| rule == &f.rule || rule == "all")
            {
                Some((rule, reason)) => {
                    if !suppressed.iter().any(|s: &Suppressed| &s.rule == rule) {
                        suppressed.push(Suppressed {
                            rule: f.rule.clone(),
                            reason: reason.clone(),
                        });
                    }
                    false
                }
                None => true,
            }
        });
        apply_options(&mut findings, options);
        let class = Class::of(findings.iter().map(|f| &f.severity));
        statements.push(StatementLint {
            index: index + 1,
            line: statement.code_line,
            column: if statement.code_line == statement.line {
                statement.column
            } else {
                1
            },
            kind: statement.kind.clone(),
            class,
            guarded: is_guarded(node) || embedded_guarded,
            findings,
            suppressed,
        });
    }
    apply_options(&mut file_findings, options);
    let class = Class::of(
        file_findings
            .iter()
            .chain(statements.iter().flat_map(|s| s.findings.iter()))
            .map(|f| &f.severity),
    );
    FileLint {
        class,
        findings: file_findings,
        statements,
        parsed,
    }
}

/// Severity overrides and ignored rules from safemig.toml.
fn apply_options(findings: &mut Vec<Finding>, options: &LintOptions) {
    findings.retain_mut(|f| match options.severity_of(&f.rule, f.severity) {
        Some(severity) => {
            f.severity = severity;
            true
        }
        None => false,
    });
}

fn run_rules(
    ctx: &Ctx<'_>,
    sql: &str,
    statement: &Statement,
    embedded_at: Option<(usize, &'static str)>,
    out: &mut Vec<Finding>,
    options: &LintOptions,
) {
    let first = out.len();
    for rule in rules::all() {
        let doc = rule.doc();
        if options.ignore.contains(doc.name) {
            continue;
        }
        for hit in rule.check(ctx) {
            let mut f = finding_at(
                statement,
                ctx.index,
                doc.name,
                doc.severity,
                hit.message,
                hit.help,
                None,
            );
            place_embedded(&mut f, sql, statement, embedded_at);
            out.push(f);
        }
    }
    // Nothing unknown is safe: a statement that runs now, that no rule classed
    // and whose kind is not known to be harmless, is review.
    let doc = &rules::not_known_safe::DOC;
    let classed = out[first..].iter().any(|f| f.severity >= Severity::Review);
    if ctx.place != rules::Place::FunctionBody
        && !classed
        && !options.ignore.contains(doc.name)
        && rules::not_known_safe::known_safe(ctx).is_none()
    {
        let kind = rules::not_known_safe::kind_name(ctx.node);
        let mut f = finding_at(
                statement,
            ctx.index,
            doc.name,
            doc.severity,
            format!(
                "`{kind}`: no rule of safemig covers this kind of statement, so it cannot be called safe; \
                 review what it changes (privileges, settings, behaviour, rows)"
            ),
            None,
            None,
        );
        place_embedded(&mut f, sql, statement, embedded_at);
        out.push(f);
    }
}

/// A finding about a statement inside a `DO` block or function body points into
/// the body, where the statement is.
fn place_embedded(
    f: &mut Finding,
    sql: &str,
    statement: &Statement,
    embedded_at: Option<(usize, &'static str)>,
) {
    if let Some((offset, inside)) = embedded_at {
        let (line, column) = statement.position_of(sql, offset);
        f.line = line;
        f.column = column;
        f.offset = offset;
        f.inside = Some(inside);
    }
}

/// Runs the rules over the statements inside a `DO` block or a PL/pgSQL function.
/// Returns whether the block is guarded: every statement in it sits under a
/// catalog test or is itself guarded.
fn lint_embedded(
    sql: &str,
    statement: &Statement,
    index: usize,
    node: &NodeEnum,
    facts: &FileFacts,
    options: &LintOptions,
    out: &mut Vec<Finding>,
) -> bool {
    let (found, place, inside) = match node {
        NodeEnum::DoStmt(stmt) => {
            let language = def_string(&stmt.args, "language").unwrap_or_else(|| "plpgsql".into());
            let Some(body) = def_string(&stmt.args, "as") else {
                return false;
            };
            if !language.eq_ignore_ascii_case("plpgsql") {
                return false;
            }
            (plpgsql::from_do_body(&body), Place::DoBlock, "do-block")
        }
        NodeEnum::CreateFunctionStmt(stmt) => {
            let language = def_string(&stmt.options, "language").unwrap_or_default();
            if !language.eq_ignore_ascii_case("plpgsql") {
                return false;
            }
            (
                plpgsql::from_function(&statement.text),
                Place::FunctionBody,
                "function-body",
            )
        }
        _ => return false,
    };
    // The body was parsed by the server's grammar already; a PL/pgSQL error here
    // (rare: unknown variables are fine) is not worth a finding of its own.
    let Ok(found) = found else { return false };
    let mut all_guarded = !found.is_empty();
    let mut search_from = 0;
    for embedded in found {
        // Place the embedded statement in the file: its text appears verbatim in the body.
        let at = statement.text[search_from.min(statement.text.len())..]
            .find(embedded.query.as_str())
            .map(|i| {
                search_from += i + embedded.query.len();
                statement.offset + search_from - embedded.query.len()
            })
            .unwrap_or(statement.code_offset);
        if embedded.dynamic {
            all_guarded &= embedded.guarded;
            let mut f = finding_at(
                statement,
                index,
                "dynamic-sql",
                Severity::Review,
                format!(
                    "EXECUTE of SQL built at run time is not analysed: {}",
                    shorten(&embedded.query)
                ),
                None,
                None,
            );
            let (line, column) = statement.position_of(sql, at);
            (f.line, f.column, f.offset, f.inside) = (line, column, at, Some(inside));
            out.push(f);
            continue;
        }
        let Ok(parsed) = pg_query::parse(&embedded.query, pg_query::ParserOptions::default())
        else {
            continue;
        };
        for raw in &parsed.protobuf.stmts {
            let Some(inner) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else {
                continue;
            };
            all_guarded &= embedded.guarded || is_guarded(inner) || !changes_schema(inner);
            let ctx = Ctx {
                node: inner,
                text: &embedded.query,
                index,
                place,
                guarded_by_catalog_test: embedded.guarded,
                file: facts,
            };
            run_rules(&ctx, sql, statement, Some((at, inside)), out, options);
        }
    }
    all_guarded && place == Place::DoBlock
}

#[allow(clippy::too_many_arguments)]
fn finding_at(
    statement: &Statement,
    index: usize,
    rule: &str,
    severity: Severity,
    message: String,
    help: Option<String>,
    inside: Option<&'static str>,
) -> Finding {
    let (line, column) = (statement.code_line, statement.code_column);
    Finding {
        rule: rule.to_string(),
        severity,
        message,
        help,
        line,
        column,
        offset: statement.code_offset,
        statement: Some(index + 1),
        inside,
        fresh_only: false,
    }
}

fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 80 {
        one_line.chars().take(80).collect::<String>() + "…"
    } else {
        one_line
    }
}

fn offset_of_line(sql: &str, line: usize) -> usize {
    sql.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum()
}

/// A `DefElem` string argument by name (`DO ... LANGUAGE`, function options).
pub(crate) fn def_string(args: &[protobuf::Node], name: &str) -> Option<String> {
    args.iter().find_map(|a| match a.node.as_ref() {
        Some(NodeEnum::DefElem(d)) if d.defname == name => {
            match d.arg.as_ref().and_then(|n| n.node.as_ref()) {
                Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                Some(NodeEnum::List(l)) => l.items.iter().find_map(|i| match i.node.as_ref() {
                    Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                    _ => None,
                }),
                _ => None,
            }
        }
        _ => None,
    })
}

/// Does the statement change the schema (as opposed to reading or writing rows)?
fn changes_schema(node: &NodeEnum) -> bool {
    !matches!(
        node,
        NodeEnum::SelectStmt(_)
            | NodeEnum::InsertStmt(_)
            | NodeEnum::UpdateStmt(_)
            | NodeEnum::DeleteStmt(_)
            | NodeEnum::VariableSetStmt(_)
            | NodeEnum::CallStmt(_)
    )
}

/// Idempotent by its own syntax: `IF [NOT] EXISTS`, `OR REPLACE`.
pub fn is_guarded(node: &NodeEnum) -> bool {
    match node {
        NodeEnum::DropStmt(s) => s.missing_ok,
        NodeEnum::CreateStmt(s) => s.if_not_exists,
        NodeEnum::IndexStmt(s) => s.if_not_exists,
        NodeEnum::CreateSchemaStmt(s) => s.if_not_exists,
        NodeEnum::CreateExtensionStmt(s) => s.if_not_exists,
        NodeEnum::CreateSeqStmt(s) => s.if_not_exists,
        NodeEnum::CreateTableAsStmt(s) => s.if_not_exists,
        NodeEnum::CreateFunctionStmt(s) => s.replace,
        NodeEnum::CreateTrigStmt(s) => s.replace,
        NodeEnum::ViewStmt(s) => s.replace,
        NodeEnum::AlterTableStmt(s) => {
            s.missing_ok
                || s.cmds.iter().all(|c| match c.node.as_ref() {
                    Some(NodeEnum::AlterTableCmd(cmd)) => {
                        // ADD COLUMN IF NOT EXISTS and DROP ... IF EXISTS set missing_ok.
                        cmd.missing_ok
                            || matches!(
                                rules::cmd_type(cmd),
                                AlterTableType::AtEnableRowSecurity
                                    | AlterTableType::AtForceRowSecurity
                            )
                    }
                    _ => false,
                })
        }
        NodeEnum::AlterEnumStmt(s) => s.skip_if_new_val_exists,
        NodeEnum::RenameStmt(s) => s.missing_ok,
        _ => false,
    }
}

fn file_facts(statements: &[Statement], options: &LintOptions) -> FileFacts {
    let mut facts = FileFacts {
        exposed_schemas: options.exposed_schemas.clone(),
        ..Default::default()
    };
    for (i, s) in statements.iter().enumerate() {
        let tree = s.node();
        // Session settings (`SET lock_timeout`, which missing-lock-timeout asks for) do
        // not make a CONCURRENTLY statement share its migration with other work.
        if tree.as_ref().is_some_and(|t| {
            !matches!(
                t,
                NodeEnum::VariableSetStmt(_) | NodeEnum::VariableShowStmt(_)
            )
        }) {
            facts.statement_count += 1;
        }
        match tree.as_ref() {
            // A view made here is as new as a table made here.
            Some(NodeEnum::ViewStmt(v)) if !v.replace => {
                if let Some(r) = &v.view {
                    facts.created_tables.insert(rules::qualified(r));
                }
            }
            Some(NodeEnum::CreateSeqStmt(c)) => {
                if let Some(r) = &c.sequence {
                    facts.created_sequences.insert(rules::qualified(r));
                }
            }
            Some(NodeEnum::GrantStmt(g))
                if g.objtype == protobuf::ObjectType::ObjectFunction as i32 =>
            {
                let grantees = rules::role_names(&g.grantees);
                let to_anon = grantees.iter().any(|r| r == "anon" || r == "public");
                let from_public = grantees.iter().any(|r| r == "public");
                for object in &g.objects {
                    if let Some(NodeEnum::ObjectWithArgs(f)) = object.node.as_ref() {
                        let name = rules::function_name(&f.objname);
                        if g.is_grant && to_anon {
                            facts.execute_granted_to_anon.insert(name);
                        } else if !g.is_grant && from_public {
                            facts.execute_revoked_from_anon.insert(name);
                        }
                    }
                }
            }
            Some(NodeEnum::CreateStmt(c)) => {
                if let Some(r) = &c.relation {
                    facts.created_tables.insert(rules::qualified(r));
                }
            }
            Some(NodeEnum::CreateTableAsStmt(c)) => {
                if let Some(r) = c.into.as_ref().and_then(|i| i.rel.as_ref()) {
                    facts.created_tables.insert(rules::qualified(r));
                }
            }
            Some(NodeEnum::CreateTrigStmt(t)) => {
                if let Some(r) = &t.relation {
                    facts
                        .created_triggers
                        .insert((rules::qualified(r), t.trigname.clone()));
                }
            }
            Some(NodeEnum::CreateFunctionStmt(f)) => {
                let name = rules::function_name(&f.funcname);
                facts.created_functions.insert(name.clone());
                facts.functions_created_at.push((name.clone(), i));
                let plpgsql = f.options.iter().any(|o| matches!(o.node.as_ref(),
                    Some(NodeEnum::DefElem(d)) if d.defname == "language"
                        && matches!(d.arg.as_deref().and_then(|a| a.node.as_ref()), Some(NodeEnum::String(l)) if l.sval.eq_ignore_ascii_case("plpgsql"))));
                if plpgsql && rules::returns_only_null(f) {
                    facts.null_returning_functions.insert(name);
                }
            }
            Some(NodeEnum::CreatePolicyStmt(c)) => {
                if let Some(r) = &c.table {
                    facts
                        .created_policies
                        .insert((rules::qualified(r), c.policy_name.clone()));
                }
            }
            Some(NodeEnum::DropStmt(d))
                if d.missing_ok && d.remove_type == protobuf::ObjectType::ObjectTrigger as i32 =>
            {
                for parts in rules::dropped_objects(d) {
                    let (schema, table, name) = match parts.as_slice() {
                        [s, t, n] => (s.clone(), t.clone(), n.clone()),
                        [t, n] => (String::new(), t.clone(), n.clone()),
                        _ => continue,
                    };
                    facts.dropped_triggers.insert((
                        crate::parse::QualifiedName {
                            schema,
                            name: table,
                        },
                        name,
                    ));
                }
            }
            Some(NodeEnum::VariableSetStmt(v)) if v.name == "lock_timeout" => {
                facts.first_lock_timeout.get_or_insert(i);
            }
            Some(NodeEnum::TransactionStmt(t))
                if matches!(
                    TransactionStmtKind::try_from(t.kind),
                    Ok(TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart)
                ) =>
            {
                facts.has_own_transaction = true;
            }
            Some(NodeEnum::TransactionStmt(t))
                if matches!(
                    TransactionStmtKind::try_from(t.kind),
                    Ok(TransactionStmtKind::TransStmtCommit)
                ) =>
            {
                facts.commits.push(i);
            }
            Some(node @ NodeEnum::AlterTableStmt(_)) => {
                for (table, cmd) in rules::alter_table_cmds(node) {
                    if rules::cmd_type(cmd) == AlterTableType::AtEnableRowSecurity {
                        facts.rls_enabled.insert(table.clone());
                    }
                    if rules::cmd_type(cmd) == AlterTableType::AtAddConstraint {
                        if let Some(c) = rules::constraint_def(cmd).filter(|c| c.skip_validation) {
                            facts
                                .not_valid_constraints
                                .insert((table.clone(), c.conname.clone()));
                        }
                    }
                    if rules::cmd_type(cmd) == AlterTableType::AtAddColumn {
                        if let Some(def) = rules::column_def(cmd) {
                            facts.added_columns.insert((table, def.colname.clone()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    facts
}

/// `-- safemig:ignore RULE[,RULE] reason` in the statement's leading comments.
fn suppressions(statement: &Statement) -> Vec<(String, String)> {
    let leading = statement
        .text
        .get(..statement.code_offset.saturating_sub(statement.offset))
        .unwrap_or("");
    let mut out = Vec::new();
    for line in leading.lines() {
        let Some(rest) = line.split_once("safemig:ignore").map(|(_, r)| r.trim()) else {
            continue;
        };
        let (rules, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        for rule in rules.split(',').filter(|r| !r.is_empty()) {
            out.push((
                rule.trim().to_string(),
                reason.trim().trim_end_matches("*/").trim().to_string(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(lint: &FileLint) -> Vec<String> {
        lint.all_findings().map(|f| f.rule.clone()).collect()
    }

    #[test]
    fn classifies_by_the_worst_finding() {
        let lint = lint_file(
            "CREATE TABLE a (id int);\nDROP TABLE b;",
            &LintOptions::default(),
        );
        assert_eq!(lint.class, Class::Risky);
        assert_eq!(lint.statements[1].class, Class::Risky);
        assert_eq!(lint.statements[1].findings[0].line, 2);
    }

    #[test]
    fn syntax_errors_are_one_finding_at_the_right_line() {
        let lint = lint_file(
            "SELECT 1;\nCREATE TABEL x (id int);\nSELECT 2;",
            &LintOptions::default(),
        );
        assert_eq!(rules_of(&lint), ["syntax-error"]);
        assert_eq!(lint.findings[0].line, 2);
        assert!(lint.findings[0]
            .message
            .contains("syntax error at or near \"TABEL\""));
    }

    #[test]
    fn inline_suppression_with_a_reason() {
        let lint = lint_file(
            "SET lock_timeout = '5s';\n-- safemig:ignore drop-table the old staging copy is not needed\nDROP TABLE IF EXISTS staging;",
            &LintOptions::default(),
        );
        assert!(
            lint.statements[1].findings.is_empty(),
            "{:?}",
            lint.statements[1].findings
        );
        assert_eq!(
            lint.statements[1].suppressed,
            [Suppressed {
                rule: "drop-table".into(),
                reason: "the old staging copy is not needed".into()
            }]
        );
        assert_eq!(lint.class, Class::Safe);
    }

    #[test]
    fn guarded_is_not_safe() {
        let lint = lint_file("DROP TABLE IF EXISTS a;", &LintOptions::default());
        assert!(lint.statements[0].guarded);
        assert_eq!(lint.statements[0].class, Class::Risky);
        let lint = lint_file(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'a') THEN CREATE TABLE a (id int); END IF; END $$;",
            &LintOptions::default(),
        );
        assert!(lint.statements[0].guarded);
    }

    #[test]
    fn findings_inside_do_blocks_point_into_the_block() {
        let sql = "DO $$\nBEGIN\n  DROP TABLE a;\nEND $$;";
        let lint = lint_file(sql, &LintOptions::default());
        let f = &lint.statements[0].findings[0];
        assert_eq!(
            (f.rule.as_str(), f.line, f.column, f.inside),
            ("drop-table", 3, 3, Some("do-block"))
        );
    }

    #[test]
    fn dynamic_sql_is_reported_as_opaque() {
        let lint = lint_file(
            "DO $$ BEGIN EXECUTE 'DROP TABLE ' || quote_ident('a'); END $$;",
            &LintOptions::default(),
        );
        assert_eq!(rules_of(&lint), ["dynamic-sql"]);
    }

    #[test]
    fn options_ignore_and_override_severity() {
        let mut options = LintOptions::default();
        options
            .severity
            .insert("drop-table".into(), Severity::Review);
        assert_eq!(lint_file("DROP TABLE a;", &options).class, Class::Review);
        options.ignore.insert("drop-table".into());
        assert_eq!(lint_file("DROP TABLE a;", &options).class, Class::Safe);
    }
}
