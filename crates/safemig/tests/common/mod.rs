//! The end-to-end harness: a real throwaway PostgreSQL per test, an example project
//! in a temp folder, and the real `safemig` binary run against them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use safemig_pg::{Ephemeral, EphemeralOptions};

pub struct Project {
    pub cluster: Ephemeral,
    pub dir: tempfile::TempDir,
    pub url: String,
}

/// What one run of the binary gave back.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// `migrations[i].result` of a `migrate --format json` run, as (version, result) pairs.
    pub fn results(&self) -> Vec<(String, String)> {
        self.json()["migrations"]
            .as_array()
            .expect("a migrations array")
            .iter()
            .map(|m| {
                (
                    m["version"].as_str().unwrap().to_string(),
                    m["result"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Project {
    /// A fresh cluster with a database `app` holding the Supabase stand-in.
    pub fn new() -> Project {
        Project::with_options(EphemeralOptions::default())
    }

    pub fn with_options(options: EphemeralOptions) -> Project {
        let cluster = Ephemeral::start_with(options).expect("a throwaway PostgreSQL starts");
        cluster.create_database("app").expect("create database app");
        let url = cluster.url("app");
        let dir = tempfile::Builder::new()
            .prefix("safemig-test-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("supabase/migrations")).unwrap();
        let project = Project { cluster, dir, url };
        project
            .client()
            .batch_execute(safemig_pg::supabase::PLATFORM_SQL)
            .expect("Supabase stand-in loads");
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn migrations_dir(&self) -> PathBuf {
        self.path().join("supabase/migrations")
    }

    /// Writes `supabase/migrations/<file_name>`.
    pub fn migration(&self, file_name: &str, sql: &str) -> PathBuf {
        let path = self.migrations_dir().join(file_name);
        std::fs::write(&path, sql).unwrap();
        path
    }

    pub fn config(&self, toml: &str) {
        std::fs::write(self.path().join("safemig.toml"), toml).unwrap();
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls)
            .expect("connect to the throwaway PostgreSQL")
    }

    /// Runs `sql` and returns the first column of the first row as i64.
    pub fn i64(&self, sql: &str) -> i64 {
        self.client()
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }

    pub fn bool(&self, sql: &str) -> bool {
        self.client()
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }

    pub fn exec(&self, sql: &str) {
        self.client()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}: {:?}", e.as_db_error().map(|d| d.message())));
    }

    /// `safemig --db <url> ARGS` in the project folder.
    pub fn safemig(&self, args: &[&str]) -> Run {
        let mut full = vec!["--db", self.url.as_str()];
        full.extend_from_slice(args);
        self.safemig_raw(&full, &[])
    }

    /// `safemig ARGS` in the project folder with a clean environment plus `env`.
    pub fn safemig_raw(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args, env);
        output(command.output().expect("safemig runs"))
    }

    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_safemig"));
        command
            .current_dir(self.path())
            .args(args)
            .env("NO_COLOR", "1");
        for (key, _) in std::env::vars() {
            if key.starts_with("PG") || key == "DATABASE_URL" {
                command.env_remove(key);
            }
        }
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }

    /// Every table's exact row count and the catalog's shape, for "nothing changed"
    /// checks. The audit trail (`safemig.audit`) is left out: it is meant to grow.
    pub fn fingerprint(&self) -> String {
        let mut client = self.client();
        let mut out = String::new();
        let catalog = client
            .query(
                "SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || coalesce(pg_relation_filenode(c.oid)::text, '-') || ':' || \
                   coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum) \
                             FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1",
                &[],
            )
            .unwrap();
        for row in catalog {
            out.push_str(&row.get::<_, String>(0));
            out.push('\n');
        }
        for row in client
            .query(
                "SELECT p.oid::regprocedure::text || md5(p.prosrc) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
                &[],
            )
            .unwrap()
        {
            out.push_str(&row.get::<_, String>(0));
            out.push('\n');
        }
        for row in client
            .query(
                "SELECT tgname || ' ' || tgrelid::regclass::text FROM pg_trigger ORDER BY 1",
                &[],
            )
            .unwrap()
        {
            out.push_str(&row.get::<_, String>(0));
            out.push('\n');
        }
        let tables = client
            .query(
                "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables \
                 WHERE (schemaname, relname) <> ('safemig', 'audit') ORDER BY 1",
                &[],
            )
            .unwrap();
        for row in tables {
            let name: String = row.get(0);
            let count: i64 = client
                .query_one(&format!("SELECT count(*) FROM {name}"), &[])
                .unwrap()
                .get(0);
            out.push_str(&format!("{name} rows={count}\n"));
        }
        out
    }
}

pub fn output(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
