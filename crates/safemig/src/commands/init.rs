//! `safemig init`: a commented `safemig.toml` with what was detected, and the
//! new-user test in `supabase/tests/`. Never overwrites a file.

use std::path::{Path, PathBuf};

use safemig_project::MigrationSet;

use crate::cli::InitArgs;
use crate::context::{CliError, Context};
use crate::report::{self, human};

/// A table with rows, from the database: (`schema.table`, rows).
type Floor = (String, i64);

pub fn run(ctx: &Context, _args: &InitArgs) -> Result<i32, CliError> {
    let root = ctx.config.base();
    let root = if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root
    };
    let config_path = root.join("safemig.toml");
    if config_path.exists() {
        return Err(CliError::input(format!(
            "{} exists already; nothing was written (safemig init never overwrites: move it aside to start over)",
            config_path.display()
        )));
    }
    let migrations_dir = ctx.migrations_dir();
    let set = safemig_project::migrations::load(&migrations_dir).ok();
    let supabase = migrations_dir.ends_with("supabase/migrations")
        || root.join("supabase/config.toml").is_file();
    let handler = set.as_ref().and_then(new_user_handler);

    // With a database: the tables that hold rows, biggest first, as proposed floors.
    let floors: Vec<Floor> = match ctx.explicit_url() {
        Some(_) => {
            let target = ctx.target()?;
            let mut client = target.connect()?;
            client
                .query(
                    "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), \
                            greatest(c.reltuples::int8, pg_catalog.pg_stat_get_live_tuples(c.oid)) \
                     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
                       AND n.nspname <> ALL($1) AND n.nspname NOT LIKE 'pg\\_%' \
                     ORDER BY 2 DESC, 1 LIMIT 20",
                    // The schemas the guards leave alone: the platform's, PostgreSQL's, safemig's.
                    &[&safemig_pg::catalog::UNPROTECTED_SCHEMAS],
                )
                .map_err(|e| CliError::input(format!("reading the database's tables: {e}")))?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .filter(|(_, rows): &Floor| *rows > 0)
                .collect()
        }
        None => Vec::new(),
    };

    let text = config_text(&root, &migrations_dir, supabase, handler.as_ref(), &floors);
    write_new(&config_path, &text)?;
    let mut written = vec![config_path.display().to_string()];
    if let Some((_, table, _)) = &handler {
        let test = root.join("supabase/tests/new_user_creates_profile.sql");
        if !test.exists() {
            std::fs::create_dir_all(test.parent().unwrap_or(Path::new(".")))
                .map_err(|e| CliError::input(format!("cannot create {}: {e}", test.display())))?;
            write_new(&test, &new_user_test(table))?;
            written.push(test.display().to_string());
        }
    }
    if ctx.json() {
        report::print_json(&serde_json::json!({
            "written": written,
            "supabase": supabase,
            "new_user_handler": handler.as_ref().map(|(f, t, trigger)| serde_json::json!({ "function": f, "inserts_into": t, "trigger": trigger })),
            "floors": floors.iter().map(|(t, n)| serde_json::json!({ "table": t, "rows": n })).collect::<Vec<_>>(),
        }));
        return Ok(0);
    }
    for path in &written {
        println!("{} wrote {path}", human::green("✓"));
    }
    println!(
        "{}",
        human::dim("next: read safemig.toml (every setting is explained there), then `safemig check` and `safemig plan --rehearse`")
    );
    Ok(0)
}

fn write_new(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))
}

/// The migrations' function that handles new sign-ups, and the table it writes.
fn new_user_handler(set: &MigrationSet) -> Option<(String, String, Option<String>)> {
    safemig_analyze::project::new_user_handler(set.migrations.iter().map(|m| m.sql.as_str()))
}

fn config_text(
    root: &Path,
    migrations_dir: &Path,
    supabase: bool,
    handler: Option<&(String, String, Option<String>)>,
    floors: &[Floor],
) -> String {
    let relative = migrations_dir.strip_prefix(root).unwrap_or(migrations_dir);
    let mut t = String::new();
    t.push_str(
        "# safemig.toml, written by `safemig init`. Everything here is optional: a setting\n",
    );
    t.push_str("# left out takes the default shown. Reference: the README's *safemig.toml*.\n\n");
    t.push_str(&format!(
        "# Where the migrations are ({}).\nmigrations_dir = \"{}\"\n\n",
        if supabase {
            "a Supabase project"
        } else {
            "detected"
        },
        relative.display()
    ));
    t.push_str("[check]\n# Schemas the Supabase API exposes: RLS and grants are judged there.\nexposed_schemas = [\"public\"]\n");
    t.push_str("# Objects that exist without a migration creating them (made by hand, or by the platform).\n# externals = [\"public.legacy_table\"]\n\n");
    t.push_str("[backup]\n# Tables copied as CSV with a content checksum in every backup (restore --tables reads them).\n");
    if floors.is_empty() {
        t.push_str("# critical = [\"public.orders\"]\n");
    } else {
        let names: Vec<String> = floors
            .iter()
            .take(5)
            .map(|(n, _)| format!("\"{n}\""))
            .collect();
        t.push_str(&format!(
            "# The database's biggest tables; keep those that matter most:\n# critical = [{}]\n",
            names.join(", ")
        ));
    }
    t.push_str("# How long a verified backup is reused by `migrate --backup auto`.\n# max_age = \"24h\"\n\n");
    t.push_str("[guard.min_rows]\n# A migration that leaves fewer rows than this is rolled back (rows counted when init ran):\n");
    if floors.is_empty() {
        t.push_str("# \"public.library_tracks\" = 59\n");
    }
    for (table, rows) in floors.iter().take(10) {
        t.push_str(&format!("# \"{table}\" = {rows}\n"));
    }
    t.push_str("\n[verify]\n# What `safemig verify` requires of the database.\n");
    match handler {
        Some((function, table, trigger)) => {
            t.push_str(&format!("functions = [\"{function}\"]\n"));
            match trigger {
                Some(trigger) => t.push_str(&format!("triggers = [\"{trigger} ON auth.users\"]\n")),
                None => t.push_str(&format!(
                    "# No migration attaches {function} to auth.users yet: new sign-ups get no row from it.\n\
                     # triggers = [\"on_auth_user_created ON auth.users\"]\n"
                )),
            }
            t.push_str(&format!("tables = [\"{table}\"]\n"));
        }
        None => t.push_str("# functions = [\"public.handle_new_user()\"]\n# triggers = [\"on_auth_user_created ON auth.users\"]\n"),
    }
    t.push_str("\n# A loss a migration is meant to cause, allowed for that migration only:\n");
    t.push_str("# [[allow]]\n# migration = \"20250101000000\"\n# table = \"public.old_table\"\n# loss = [\"table\"]\n# reason = \"replaced by public.new_table\"\n");
    t
}

/// The seed's test, for the table the project's new-user handler writes.
fn new_user_test(table: &str) -> String {
    format!(
        "-- A new Supabase auth user gets its {table} row: the new-user trigger on\n\
         -- auth.users works. `safemig verify` runs this in a transaction that is always\n\
         -- rolled back, so the test user never stays. Written by `safemig init`.\n\
         DO $$\n\
         DECLARE\n  new_id uuid := gen_random_uuid();\n\
         BEGIN\n  INSERT INTO auth.users (id, email, raw_user_meta_data, created_at)\n  \
         VALUES (new_id, 'safemig-verify@example.invalid', '{{}}'::jsonb, now());\n  \
         IF NOT EXISTS (SELECT 1 FROM {table} WHERE id = new_id) THEN\n    \
         RAISE EXCEPTION 'inserting into auth.users did not create the {table} row for %: is the trigger missing or disabled?', new_id;\n  \
         END IF;\nEND\n$$;\n"
    )
}
