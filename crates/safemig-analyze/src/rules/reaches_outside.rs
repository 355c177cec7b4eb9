//! `reaches-outside`: the migration acts outside its own transaction (another
//! database, a web request, a program, a file), where no rollback reaches.

use pg_query::{NodeEnum, NodeRef};

use super::{function_name, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct ReachesOutside;

static DOC: RuleDoc = RuleDoc {
    name: "reaches-outside",
    severity: Severity::Risky,
    summary: "dblink, pg_net/http calls, COPY ... PROGRAM or to a server file: work no rollback undoes",
    what_it_does: "Finds calls to `dblink`, `dblink_exec` and the other dblink functions, pg_net's \
                   `net.http_get`/`net.http_post`/`net.http_delete`, the `http` extension's functions, \
                   `lo_import`/`lo_export`, `pg_terminate_backend`/`pg_cancel_backend`, `pg_file_write`, and \
                   `COPY ... TO/FROM PROGRAM` or a server-side file, at the top level, in a `DO` block or a function body.",
    why_it_matters: "A migration is safe to run because everything it does is undone when it fails or a guard \
                     rolls it back. These statements act in another session, another server or the file system: a \
                     `dblink_exec('DELETE ...')` survives the rollback, and a rehearsal on a throwaway copy would \
                     still reach the real database. `safemig migrate` refuses such a migration even with \
                     `--allow-risky`, unless `safemig.toml` names it (`[check] allow_risky` or an `[[allow]]`), and \
                     `plan --rehearse` does not run it.",
    example: "SELECT dblink_exec('host=prod dbname=app', 'DELETE FROM public.sessions');",
    use_instead: "Do the work in this database, in SQL the migration's transaction covers; run calls to other \
                  systems from the application or a job, after the migration.",
};

/// Functions whose effect lives outside the calling transaction.
const OUTSIDE: &[&str] = &[
    "pg_reload_conf",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_rotate_logfile",
    "pg_file_write",
    "lo_export",
    "pg_promote",
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_connect_u",
    "dblink_open",
    "dblink_send_query",
    "http_get",
    "http_post",
    "http_put",
    "http_patch",
    "http_delete",
    "http",
    "lo_import",
    "lo_export",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
];

impl Rule for ReachesOutside {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        // A function body runs when it is called (a webhook trigger's net.http_post),
        // not while the migration runs: only what the migration itself executes counts.
        if ctx.place == super::Place::FunctionBody {
            return Vec::new();
        }
        let mut hits = Vec::new();
        if let NodeEnum::AlterSystemStmt(_) = ctx.node {
            hits.push(Hit::new(
                "`ALTER SYSTEM` writes the server's configuration file: it is not transactional, and a rollback does not undo it",
            ));
        }
        if let NodeEnum::CopyStmt(c) = ctx.node {
            if c.is_program {
                hits.push(Hit::new(format!(
                    "`COPY ... {} PROGRAM` runs a program on the database server",
                    if c.is_from { "FROM" } else { "TO" }
                )));
            } else if !c.filename.is_empty() {
                hits.push(Hit::new(format!(
                    "`COPY ... {} '{}'` reads or writes a file on the database server",
                    if c.is_from { "FROM" } else { "TO" },
                    c.filename
                )));
            }
        }
        for (node, ..) in ctx.node.nodes() {
            let NodeRef::FuncCall(f) = node else { continue };
            let name = function_name(&f.funcname);
            let base = name.name.to_ascii_lowercase();
            let pg_net = name.schema.eq_ignore_ascii_case("net") && base.starts_with("http_");
            if pg_net || OUTSIDE.contains(&base.as_str()) {
                hits.push(
                    Hit::new(format!(
                        "`{name}()` acts outside the migration's transaction: a rollback does not undo it"
                    ))
                    .help("move it out of the migration, or name the migration in safemig.toml once reviewed"),
                );
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_dblink_pg_net_and_copy_program() {
        assert!(hits(
            &ReachesOutside,
            "SELECT dblink_exec('dbname=app', 'DELETE FROM t');"
        )[0]
        .message
        .contains("dblink_exec"));
        assert!(fires(
            &ReachesOutside,
            "SELECT net.http_post('https://example.com', '{}'::jsonb);"
        ));
        assert!(fires(
            &ReachesOutside,
            "COPY public.t TO PROGRAM 'curl -d @- https://example.com';"
        ));
        assert!(fires(&ReachesOutside, "COPY public.t FROM '/etc/passwd';"));
    }

    #[test]
    fn quiet_on_ordinary_statements_and_copy_stdin() {
        assert!(!fires(
            &ReachesOutside,
            "SELECT now(); COPY public.t TO STDOUT; SELECT public.http_status();"
        ));
    }

    #[test]
    fn fires_inside_a_do_block_not_a_function_body() {
        assert!(fires(
            &ReachesOutside,
            "DO $$ BEGIN PERFORM dblink_exec('dbname=app', 'DELETE FROM t'); END $$;"
        ));
        // A webhook trigger's function reaches out when it runs, not while migrating.
        assert!(!fires(
            &ReachesOutside,
            "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM net.http_post('https://x'); RETURN NEW; END $$;"
        ));
    }
}
