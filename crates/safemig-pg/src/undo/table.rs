//! A dropped table brought back from the backup taken before the migration:
//! its definition and what belonged to it (constraints, indexes, triggers,
//! policies, row security, defaults, owned sequences, grants, comments,
//! publication membership) and its rows, from the backup's pg_dump archive,
//! in the rollback's transaction.
//!
//! The archive's entries are chosen by the oids recorded when the table was
//! dropped (the table's and those of the objects that depended on it), so a
//! table of the same name made since, or another table's objects, are never
//! taken; the few entries without an oid (comments, grants, sequence
//! ownership) by their tag. `pg_restore` writes them as SQL (`-f -`), which
//! runs here; the rows stream into `COPY`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use postgres::Transaction;

use crate::{tools, PgError};

/// What the rollback of a dropped table needs (recorded when it was dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStep {
    pub schema: String,
    pub name: String,
    /// Its name as pg_dump writes it in tags (`quote_ident`: `"User"`).
    pub tag: String,
    pub oid: u32,
    /// The oids of the objects that belonged to it (`pg_depend`, auto or internal).
    pub dependents: BTreeSet<u32>,
    /// Its privileges and its columns' when it was dropped ([`super::ACL_SQL`]).
    pub acl: String,
    /// Its rows when it was dropped.
    pub rows: Option<i64>,
}

/// One line of `pg_restore -l`: `216; 1259 16657 TABLE public t postgres`.
struct Entry<'a> {
    line: &'a str,
    oid: u32,
    /// `TABLE public t postgres`: type, schema, tag, owner.
    desc: &'a str,
}

fn entries(toc: &str) -> Vec<Entry<'_>> {
    toc.lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|line| {
            let (_, rest) = line.split_once("; ")?;
            let mut parts = rest.splitn(3, ' ');
            let _catalog = parts.next()?;
            let oid = parts.next()?.parse().ok()?;
            Some(Entry {
                line,
                oid,
                desc: parts.next()?,
            })
        })
        .collect()
}

/// The tag of `desc` for entry type `kind` in `schema` (owner dropped), if it is one.
fn tag<'a>(desc: &'a str, kind: &str, schema: &str) -> Option<&'a str> {
    let rest = desc.strip_prefix(kind)?.strip_prefix(' ')?;
    let rest = rest.strip_prefix(schema)?.strip_prefix(' ')?;
    Some(rest.rsplit_once(' ').map_or(rest, |(tag, _owner)| tag))
}

/// The archive entries of the table and what belonged to it, in archive order.
fn chosen<'a>(toc: &'a str, step: &TableStep) -> Vec<&'a str> {
    let all = entries(toc);
    let TableStep { schema, name, .. } = step;
    let by_oid = |e: &Entry| e.oid != 0 && (e.oid == step.oid || step.dependents.contains(&e.oid));
    // Sequences and indexes of the table, by name, for their comments and grants
    // (whose tags quote names as SQL would: `INDEX "User_pkey"`).
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut owned_sequences: BTreeSet<String> = BTreeSet::new();
    for e in all.iter().filter(|e| by_oid(e)) {
        for kind in ["SEQUENCE", "INDEX"] {
            if let Some(t) = tag(e.desc, kind, schema) {
                names.insert(format!("{kind} {}", crate::quote_if_needed(t)));
                if kind == "SEQUENCE" {
                    owned_sequences.insert(t.to_string());
                }
            }
        }
    }
    let _ = name;
    let table_tag = format!("TABLE {}", step.tag);
    let column_prefix = format!("COLUMN {}.", step.tag);
    let on_table = format!(" ON {}", step.tag);
    all.iter()
        .filter(|e| {
            if e.oid != 0 {
                return by_oid(e);
            }
            let described = ["COMMENT", "ACL"]
                .iter()
                .find_map(|k| tag(e.desc, k, schema));
            if let Some(t) = described {
                return t == table_tag
                    || t.starts_with(&column_prefix)
                    || names.contains(t)
                    || (t.ends_with(&on_table)
                        && ["CONSTRAINT ", "TRIGGER ", "POLICY ", "RULE "]
                            .iter()
                            .any(|k| t.starts_with(k)));
            }
            ["SEQUENCE OWNED BY", "SEQUENCE SET"]
                .iter()
                .any(|k| tag(e.desc, k, schema).is_some_and(|t| owned_sequences.contains(t)))
        })
        .map(|e| e.line)
        .collect()
}

fn pg_restore(tx: &mut Transaction<'_>) -> Result<tools::Tool, PgError> {
    let num: String = tx
        .query_one("SELECT current_setting('server_version_num')", &[])
        .map_err(|e| PgError::sql("reading the server version", &e))?
        .get(0);
    tools::find("pg_restore", num.parse::<u32>().unwrap_or(0) / 10000)
}

/// Whether the backup's archive holds the table (the one dropped: same oid),
/// and how many rows the backup counted in it.
pub fn available(
    tx: &mut Transaction<'_>,
    backup: &crate::backup::Backup,
    step: &TableStep,
) -> Result<Result<String, String>, PgError> {
    let tool = pg_restore(tx)?;
    let toc = crate::backup::archive_toc(&tool, &backup.dir.join(&backup.manifest.dump))?;
    let found = entries(&toc).iter().any(|e| {
        e.oid == step.oid && tag(e.desc, "TABLE", &step.schema) == Some(step.name.as_str())
    });
    if !found {
        return Ok(Err(format!(
            "backup {}'s archive holds no table {}.{} of the one dropped (oid {})",
            backup.manifest.id, step.schema, step.name, step.oid
        )));
    }
    let rows = rows_in(backup, step);
    Ok(Ok(format!(
        "{}.{} would come back from backup {} with its definition, indexes, constraints, triggers, policies and \
         grants{}",
        step.schema,
        step.name,
        backup.manifest.id,
        rows.map(|n| format!(", and its {n} row(s)")).unwrap_or_default()
    )))
}

fn rows_in(backup: &crate::backup::Backup, step: &TableStep) -> Option<i64> {
    backup
        .manifest
        .tables
        .iter()
        .find(|t| t.schema == step.schema && t.name == step.name)
        .map(|t| t.rows)
}

/// Runs the table's entries of `section` (`pg_restore -L list --section=SECTION
/// -f -`) in the transaction: statements as they come, the rows of a `COPY`
/// streamed into it. pg_restore's own session settings (`lock_timeout = 0`
/// among them: the rollback's stay) and psql meta-commands are left out.
fn run_section(
    tx: &mut Transaction<'_>,
    tool: &tools::Tool,
    dump: &std::path::Path,
    list: &std::path::Path,
    section: &str,
) -> Result<(), PgError> {
    let what = "bringing the dropped table back";
    let mut child = Command::new(&tool.path)
        .arg("-L")
        .arg(list)
        .arg(format!("--section={section}"))
        .args(["-f", "-"])
        .arg(dump)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| PgError::Tool(format!("cannot run pg_restore: {e}")))?;
    let mut reader = BufReader::new(child.stdout.take().expect("piped"));
    // Its errors read as they come: a full stderr pipe must not stop it while
    // the rollback holds its locks.
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let read_line = |reader: &mut BufReader<_>, buf: &mut Vec<u8>| -> Result<bool, PgError> {
        buf.clear();
        reader
            .read_until(b'\n', buf)
            .map(|n| n > 0)
            .map_err(|e| PgError::Tool(format!("cannot read pg_restore's output: {e}")))
    };
    let mut sql = String::new();
    let mut header = true;
    let mut buf = Vec::new();
    let result = (|| -> Result<(), PgError> {
        while read_line(&mut reader, &mut buf)? {
            let text = String::from_utf8_lossy(&buf).into_owned();
            // psql's meta-commands around the script (pg_dump 17.6 and later).
            let between = between_statements(&sql);
            if between && (text.starts_with("\\restrict ") || text.starts_with("\\unrestrict ")) {
                continue;
            }
            // Where the table and its indexes go: kept, for this transaction only.
            if between
                && (text.starts_with("SET default_tablespace = ")
                    || text.starts_with("SET default_table_access_method = "))
            {
                sql.push_str(&text.replacen("SET ", "SET LOCAL ", 1));
                continue;
            }
            // The header's other settings (lock_timeout = 0 among them) are
            // pg_restore's: the rollback's stay. It ends at the first entry's
            // comment: `-- Name: ...` or, in the data section, `-- Data for Name: ...`.
            if header {
                header = !(text.starts_with("-- Name: ") || text.starts_with("-- Data for Name: "));
                continue;
            }
            if text.starts_with("COPY ") && text.trim_end().ends_with("FROM stdin;") {
                if !sql.trim().is_empty() {
                    tx.batch_execute(&sql).map_err(|e| PgError::sql(what, &e))?;
                }
                sql.clear();
                let mut writer = tx
                    .copy_in(text.trim_end().trim_end_matches(';'))
                    .map_err(|e| PgError::sql("loading the dropped table's rows", &e))?;
                loop {
                    if !read_line(&mut reader, &mut buf)? {
                        return Err(PgError::Tool("pg_restore's COPY data ended early".into()));
                    }
                    if buf == b"\\.\n" || buf == b"\\." {
                        break;
                    }
                    writer.write_all(&buf).map_err(|e| {
                        PgError::Tool(format!("cannot load the dropped table's rows: {e}"))
                    })?;
                }
                writer
                    .finish()
                    .map_err(|e| PgError::sql("loading the dropped table's rows", &e))?;
                continue;
            }
            sql.push_str(&text);
        }
        if !sql.trim().is_empty() {
            tx.batch_execute(&sql).map_err(|e| PgError::sql(what, &e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = child.kill();
    }
    drop(reader);
    let status = child
        .wait()
        .map_err(|e| PgError::Tool(format!("cannot run pg_restore: {e}")))?;
    let errors = errors.join().unwrap_or_default();
    result?;
    if !status.success() {
        return Err(PgError::Tool(format!(
            "pg_restore ({section}) failed: {}",
            crate::redact::redact(errors.trim())
        )));
    }
    Ok(())
}

/// Whether `sql` (what is read of the script so far) ends between two
/// statements: nothing, or a statement's `;`, then only comments and blank lines.
fn between_statements(sql: &str) -> bool {
    sql.lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .is_none_or(|l| l.ends_with(';'))
}

/// Brings the dropped table back from the backup's archive: its definition
/// (pre-data), its rows (data, streamed into `COPY`), then its constraints,
/// indexes, triggers and policies (post-data), and checks the rows against
/// the backup's count. Without `rows` (a throwaway copy), the definition only.
/// `Err` says why it cannot.
pub fn restore(
    tx: &mut Transaction<'_>,
    backup: &crate::backup::Backup,
    step: &TableStep,
    rows: bool,
) -> Result<Result<String, String>, PgError> {
    let tool = pg_restore(tx)?;
    let dump = backup.dir.join(&backup.manifest.dump);
    let toc = crate::backup::archive_toc(&tool, &dump)?;
    let lines = chosen(&toc, step);
    if !entries(&lines.join("\n")).iter().any(|e| {
        e.oid == step.oid && tag(e.desc, "TABLE", &step.schema) == Some(step.name.as_str())
    }) {
        return Ok(Err(format!(
            "backup {}'s archive holds no table {}.{} of the one dropped (oid {})",
            backup.manifest.id, step.schema, step.name, step.oid
        )));
    }
    let mut list = tempfile::NamedTempFile::new()
        .map_err(|e| PgError::Tool(format!("cannot make a temporary file: {e}")))?;
    for l in &lines {
        writeln!(list, "{l}")
            .map_err(|e| PgError::Tool(format!("cannot write the restore list: {e}")))?;
    }
    for section in ["pre-data", "data", "post-data"] {
        if section != "data" || rows {
            run_section(tx, &tool, &dump, list.path(), section)?;
        }
    }
    if !rows {
        return Ok(Ok(format!(
            "{}.{} brought back from backup {} without its rows",
            step.schema, step.name, backup.manifest.id
        )));
    }
    let count: i64 = tx
        .query_one(
            &format!(
                "SELECT count(*) FROM ONLY {}",
                crate::quote_qualified(&step.schema, &step.name)
            ),
            &[],
        )
        .map_err(|e| PgError::sql("counting the restored rows", &e))?
        .get(0);
    // Row for row the table that was dropped: as many rows as the backup
    // counted, and as the table held when it was dropped.
    for (expected, what) in [
        (rows_in(backup, step), "the backup counted"),
        (step.rows, "the table held when it was dropped"),
    ] {
        if let Some(expected) = expected {
            if count != expected {
                return Ok(Err(format!(
                    "{count} row(s) of {}.{} came back, {what} {expected}: rows were written between the backup \
                     and the migration; restore it into a new database (safemig restore PATH --into URL) and copy \
                     what is needed",
                    step.schema, step.name
                )));
            }
        }
    }
    // Its privileges as they were: a database's default privileges (Supabase
    // grants new tables to anon and authenticated) must not widen them. What
    // they added is revoked; anything else that differs refuses the rollback.
    let relation = crate::quote_qualified(&step.schema, &step.name);
    let read_acl = |tx: &mut Transaction<'_>| -> Result<String, PgError> {
        Ok(tx
            .query_one(
                &format!(
                    "SELECT {} FROM pg_class c WHERE c.oid = to_regclass($1)",
                    super::ACL_SQL
                ),
                &[&relation],
            )
            .map_err(|e| PgError::sql("reading the restored table's privileges", &e))?
            .get(0))
    };
    let mut acl = read_acl(tx)?;
    let recorded_table = step.acl.split('\u{1f}').next().unwrap_or_default();
    if acl != step.acl && !recorded_table.is_empty() {
        let added = tx
            .query(
                "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END \
                 FROM pg_class c CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a \
                 LEFT JOIN pg_roles r ON r.oid = a.grantee \
                 WHERE c.oid = to_regclass($1) AND NOT EXISTS (SELECT 1 FROM aclexplode(('{' || $2 || '}')::aclitem[]) b \
                   WHERE b.grantee = a.grantee AND b.privilege_type = a.privilege_type)",
                &[&relation, &recorded_table],
            )
            .map_err(|e| PgError::sql("reading the restored table's privileges", &e))?;
        for row in added {
            let (privilege, grantee): (String, String) = (row.get(0), row.get(1));
            tx.batch_execute(&format!(
                "REVOKE {privilege} ON TABLE {relation} FROM {grantee}"
            ))
            .map_err(|e| PgError::sql("narrowing the restored table's privileges", &e))?;
        }
        acl = read_acl(tx)?;
    }
    if acl != step.acl {
        return Ok(Err(format!(
            "the restored {}.{} would not have the privileges it had ({}), but {}: the database's default \
             privileges add to what the backup grants; restore it by hand and set them",
            step.schema,
            step.name,
            if step.acl.trim().is_empty() { "the owner's only" } else { step.acl.trim() },
            if acl.trim().is_empty() { "the owner's only".to_string() } else { acl.trim().to_string() }
        )));
    }
    Ok(Ok(format!(
        "{}.{} brought back from backup {} with its {count} row(s), definition, indexes, constraints, triggers, \
         policies and grants",
        step.schema, step.name, backup.manifest.id
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOC: &str = "\
;
; Archive created at 2026-12-01
;
218; 1255 16680 FUNCTION public f() postgres
216; 1259 16657 TABLE public t postgres
3372; 0 0 COMMENT public TABLE t postgres
3373; 0 0 COMMENT public COLUMN t.body postgres
3374; 0 0 ACL public TABLE t postgres
3390; 0 0 ACL public TABLE t2 postgres
215; 1259 16656 SEQUENCE public t_g_seq postgres
214; 1259 16655 SEQUENCE public t_id_seq postgres
3376; 0 0 SEQUENCE OWNED BY public t_id_seq postgres
217; 1259 16669 TABLE public u postgres
3203; 2604 16660 DEFAULT public t id postgres
3364; 0 16657 TABLE DATA public t postgres
3365; 0 16669 TABLE DATA public u postgres
3377; 0 0 SEQUENCE SET public t_g_seq postgres
3378; 0 0 SEQUENCE SET public t_id_seq postgres
3208; 2606 16668 CONSTRAINT public t t_other_key postgres
3212; 2606 16673 CONSTRAINT public u u_pkey postgres
3206; 1259 16679 INDEX public t_body postgres
3391; 0 0 COMMENT public INDEX t_body postgres
3214; 2620 16681 TRIGGER public t t_trg postgres
3358; 3256 16682 POLICY public t all read postgres
3392; 0 0 COMMENT public POLICY all read ON t postgres
3357; 0 16657 ROW SECURITY public t postgres
3361; 6106 16686 PUBLICATION TABLE public pub t postgres
3360; 6106 16685 PUBLICATION TABLE public pub u postgres
";

    #[test]
    fn the_table_and_what_belonged_to_it_are_chosen_and_nothing_else() {
        let step = TableStep {
            schema: "public".into(),
            name: "t".into(),
            tag: "t".into(),
            oid: 16657,
            dependents: [16656, 16655, 16660, 16668, 16679, 16681, 16682, 16686].into(),
            acl: String::new(),
            rows: None,
        };
        let ids: Vec<&str> = chosen(TOC, &step)
            .iter()
            .map(|l| l.split(';').next().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "216", "3372", "3373", "3374", "215", "214", "3376", "3203", "3364", "3377",
                "3378", "3208", "3206", "3391", "3214", "3358", "3392", "3357", "3361"
            ]
        );
    }
}
