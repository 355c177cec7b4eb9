//! Backups proven restorable, against real throwaway PostgreSQL clusters and the
//! real pg_dump / pg_restore.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{output, Project, Run};

const DATA: &str = "CREATE TABLE public.users (id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE, email text);
CREATE TABLE public.library_tracks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text NOT NULL, r2_key text, \"Odd name\" text);
INSERT INTO public.library_tracks (title, r2_key, \"Odd name\") SELECT 'Track ' || n, 'k/' || n, E'a,b\\n\"c\"' FROM generate_series(1, 59) n;
CREATE TABLE public.plays (track_id bigint REFERENCES public.library_tracks (id), at timestamptz DEFAULT now());
INSERT INTO public.plays (track_id) SELECT (n % 59) + 1 FROM generate_series(1, 300) n;
INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-000000000001', 'a@example.com');
INSERT INTO public.users VALUES ('00000000-0000-0000-0000-000000000001', 'a@example.com');";

fn project() -> Project {
    let p = Project::new();
    p.migration("1_base.sql", "SELECT 1;");
    p.exec(DATA);
    p
}

/// `backup create`: its last stdout line is the new backup's directory.
fn create(p: &Project) -> PathBuf {
    let run = p.safemig(&["backup", "create"]);
    assert_eq!(run.code, 0, "{run:?}");
    PathBuf::from(run.stdout.lines().last().unwrap().trim())
}

/// The content checksum computed here independently: the sum (mod 2^128) of the
/// first 16 bytes of the SHA-256 of each CSV row (a line break inside quotes is
/// part of its value).
fn checksum(p: &Project, table: &str) -> String {
    checksum_in(&mut p.client(), table)
}

fn checksum_in(client: &mut postgres::Client, table: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut csv = String::new();
    client
        .copy_out(&format!("COPY {table} TO STDOUT WITH (FORMAT csv)"))
        .unwrap()
        .read_to_string(&mut csv)
        .unwrap();
    let mut rows = vec![String::new()];
    let mut quoted = false;
    for c in csv.chars() {
        match c {
            '\n' if !quoted => rows.push(String::new()),
            c => {
                quoted ^= c == '"';
                rows.last_mut().unwrap().push(c);
            }
        }
    }
    let sum = rows
        .iter()
        .filter(|r| !r.is_empty())
        .fold(0u128, |sum, row| {
            let digest = Sha256::digest(row.as_bytes());
            sum.wrapping_add(u128::from_be_bytes(digest[..16].try_into().unwrap()))
        });
    format!("csv-sha256-sum:{sum:032x}")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

fn verify(p: &Project, dir: &Path, restore: bool) -> Run {
    let d = dir.to_str().unwrap();
    let args: Vec<&str> = if restore {
        vec!["backup", "verify", d, "--restore"]
    } else {
        vec!["backup", "verify", d]
    };
    p.safemig(&args)
}

#[test]
fn round_trip_create_verify_restore_into_a_new_database() {
    let p = project();
    let dir = create(&p);
    // Layout and modes.
    // The complete dump: a directory archive with a job per core (one file on one core).
    assert!(
        dir.join("complete.dir/toc.dat").is_file() || dir.join("complete.dump").is_file(),
        "complete dump missing"
    );
    for name in [
        "schema.sql",
        "data.sql",
        "manifest.json",
        "manifest.txt",
        "SHA256SUMS",
        "migrations/1_base.sql",
    ] {
        assert!(dir.join(name).is_file(), "{name} missing");
    }
    assert!(dir.join("tables/public.library_tracks.csv").is_file());
    for f in files(&dir) {
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
    }
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(dir.join("tables"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    // sha256sum -c accepts SHA256SUMS.
    let sums = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        sums.status.success(),
        "{}",
        String::from_utf8_lossy(&sums.stdout)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let tracks = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "library_tracks")
        .unwrap();
    assert_eq!(tracks["rows"], 59);
    assert_eq!(
        tracks["checksum"].as_str().unwrap(),
        checksum(&p, "public.library_tracks")
    );
    assert!(manifest["excluded_schemas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "auth"));

    assert_eq!(verify(&p, &dir, false).code, 0);
    let full = verify(&p, &dir, true);
    assert_eq!(full.code, 0, "{full:?}");
    let list = p.safemig(&["backup", "list", "--format", "json"]).json();
    assert_eq!(list["backups"][0]["verification"]["restore"], true);
    assert_eq!(list["backups"][0]["newest_verified"], true);

    // Restore the complete dump into a new, empty database: same rows, same content.
    p.cluster.create_database("copy").unwrap();
    p.client().batch_execute("SELECT 1").unwrap();
    let copy_url = p.cluster.url("copy");
    let mut copy = postgres::Client::connect(&copy_url, postgres::NoTls).unwrap();
    copy.batch_execute(safemig_pg::supabase::PLATFORM_SQL)
        .unwrap();
    copy.batch_execute("INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-000000000001', 'a@example.com')").unwrap();
    let run = p.safemig(&["restore", dir.to_str().unwrap(), "--into", &copy_url]);
    assert_eq!(run.code, 0, "{run:?}");
    for table in ["public.library_tracks", "public.plays", "public.users"] {
        assert_eq!(
            checksum_in(&mut copy, table),
            checksum(&p, table),
            "{table}"
        );
    }
    // A second restore into the now non-empty database is refused without --clean.
    let again = p.safemig(&["restore", dir.to_str().unwrap(), "--into", &copy_url]);
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("--clean"), "{again:?}");
}

#[test]
fn a_flipped_byte_or_a_truncated_file_anywhere_is_caught() {
    let p = project();
    let dir = create(&p);
    for file in files(&dir) {
        let name = file
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if name == "verification.json" {
            continue;
        }
        let original = std::fs::read(&file).unwrap();
        let mut flipped = original.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 0x01;
        std::fs::write(&file, &flipped).unwrap();
        let run = verify(&p, &dir, false);
        assert_eq!(run.code, 1, "a flipped byte in {name} must fail: {run:?}");
        std::fs::write(&file, &original[..original.len() / 2]).unwrap();
        let run = verify(&p, &dir, false);
        assert_eq!(run.code, 1, "a truncated {name} must fail: {run:?}");
        if name != "manifest.json" {
            assert!(
                run.stdout.contains(&name) || run.stdout.contains("SHA256SUMS"),
                "names the file: {run:?}"
            );
        }
        std::fs::write(&file, &original).unwrap();
    }
    assert_eq!(
        verify(&p, &dir, false).code,
        0,
        "restored to the original, it verifies again"
    );
    std::fs::remove_file(dir.join("data.sql")).unwrap();
    let run = verify(&p, &dir, false);
    assert!(run.stdout.contains("data.sql is missing"), "{run:?}");
}

#[test]
fn restoring_a_critical_table_brings_back_exactly_its_rows() {
    let p = project();
    let before = checksum(&p, "public.library_tracks");
    let plays_before = checksum(&p, "public.plays");
    let dir = create(&p);
    // Rows lost outside safemig (the seed's nightmare).
    p.exec("DELETE FROM public.plays WHERE track_id > 50; DELETE FROM public.library_tracks WHERE id > 50; UPDATE public.library_tracks SET title = 'x' WHERE id = 1;");
    assert_eq!(p.i64("SELECT count(*) FROM public.library_tracks"), 50);
    let run = p.safemig(&[
        "restore",
        dir.to_str().unwrap(),
        "--tables",
        "public.library_tracks",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.i64("SELECT count(*) FROM public.library_tracks"), 59);
    assert_eq!(
        checksum(&p, "public.library_tracks"),
        before,
        "exactly the original rows"
    );
    // The rows it replaced are kept aside, and the other table was not touched.
    assert_ne!(checksum(&p, "public.plays"), plays_before);
    assert_eq!(
        p.i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'safemig_backup' AND tablename LIKE 'before_restore_%library_tracks'"),
        1
    );
}

#[test]
fn a_tampered_backup_is_never_restored() {
    let p = project();
    let dir = create(&p);
    let csv = dir.join("tables/public.library_tracks.csv");
    let text = std::fs::read_to_string(&csv)
        .unwrap()
        .replace("Track 7,", "Track 8,");
    std::fs::write(&csv, text).unwrap();
    p.exec("DELETE FROM public.plays; DELETE FROM public.library_tracks WHERE id > 10;");
    let run = p.safemig(&[
        "restore",
        dir.to_str().unwrap(),
        "--tables",
        "public.library_tracks",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("fails verification"), "{run:?}");
    assert_eq!(
        p.i64("SELECT count(*) FROM public.library_tracks"),
        10,
        "nothing changed"
    );
}

#[test]
fn migrate_backs_up_first_and_require_refuses_without_a_verified_backup() {
    let p = project();
    p.migration(
        "2_more.sql",
        "ALTER TABLE public.library_tracks ADD COLUMN bpm int;",
    );
    let run = p.safemig(&["migrate", "--backup", "require"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("--backup require"), "{run:?}");
    assert_eq!(
        p.i64("SELECT count(*) FROM information_schema.columns WHERE column_name = 'bpm'"),
        0
    );

    let run = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let note = run.json()["backup"].as_str().unwrap().to_string();
    assert!(note.starts_with("backed up to"), "{note}");
    let id: Option<String> = p
        .client()
        .query_one(
            "SELECT backup_id FROM safemig.migrations WHERE version = '2'",
            &[],
        )
        .unwrap()
        .get(0);
    let id = id.expect("the backup id is in the history row");
    assert!(note.contains(&id), "{note} / {id}");

    // A verified backup newer than the newest migration satisfies require.
    p.migration(
        "3_more.sql",
        "ALTER TABLE public.library_tracks ADD COLUMN key text;",
    );
    let dir = create(&p);
    assert_eq!(verify(&p, &dir, false).code, 0);
    let run = p.safemig(&["migrate", "--backup", "require", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.json()["backup"]
            .as_str()
            .unwrap()
            .starts_with("using verified backup"),
        "{run:?}"
    );

    // Rows written after a verified backup are in no backup: it is not reused.
    p.migration(
        "4_more.sql",
        "ALTER TABLE public.library_tracks ADD COLUMN k2 text;",
    );
    let dir = create(&p);
    assert_eq!(verify(&p, &dir, false).code, 0);
    p.exec("UPDATE public.library_tracks SET key = 'written after the backup' WHERE id = 1");
    let run = p.safemig(&["migrate", "--backup", "require"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.all()
            .contains("no row written to a protected table since"),
        "{run:?}"
    );
    let plan = p.safemig(&["plan", "--format", "json"]);
    assert_eq!(
        plan.json()["backup"]["reuse"],
        serde_json::Value::Null,
        "{plan:?}"
    );

    let run = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(run.code, 0, "{run:?}");
    let audit = std::fs::read_to_string(p.path().join(".safemig/audit.jsonl")).unwrap();
    assert!(
        audit.lines().last().unwrap().contains("--backup skip"),
        "{audit}"
    );
}

#[test]
fn a_backup_killed_part_way_is_never_listed() {
    let p = project();
    let mut child = p
        .command(
            &["--db", &p.url, "backup", "create"],
            &[("SAFEMIG_TEST_PAUSE_AFTER_DUMP", "30")],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let root = p.path().join(".safemig/backups");
    let started = std::time::Instant::now();
    // Wait until the dump is written into the hidden partial directory.
    loop {
        let partial = std::fs::read_dir(&root)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.file_name().to_string_lossy().ends_with(".partial")
                    && (e.path().join("complete.dump").is_file()
                        || e.path().join("complete.dir/toc.dat").is_file())
            });
        if partial {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "the backup never reached its pause point"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    let _ = output(child.wait_with_output().unwrap());
    let list = p.safemig(&["backup", "list", "--format", "json"]).json();
    assert_eq!(
        list["backups"],
        serde_json::json!([]),
        "an interrupted backup is not listed"
    );
    let run = p.safemig(&["migrate", "--backup", "require"]);
    assert_eq!(run.code, 1, "nor used: {run:?}");
}

#[test]
fn pg_dump_missing_or_too_old_is_a_clear_error() {
    let p = project();
    let major = p.i64("SELECT current_setting('server_version_num')::int8 / 10000");
    let fake = tempfile::tempdir().unwrap();
    let run = p.safemig_raw(
        &["--db", &p.url, "backup", "create"],
        &[("SAFEMIG_PG_BIN", fake.path().to_str().unwrap())],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("pg_dump {major} or newer is needed"))
            && run.stderr.contains("none was found"),
        "{run:?}"
    );
    // An old pg_dump: a script that answers --version as PostgreSQL 9.6 did.
    let old = fake.path().join("pg_dump");
    std::fs::write(&old, "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = p.safemig_raw(
        &["--db", &p.url, "backup", "create"],
        &[("SAFEMIG_PG_BIN", fake.path().to_str().unwrap())],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("9.6.24") && run.stderr.contains(&format!("postgresql-client-{major}")),
        "{run:?}"
    );
    assert!(
        !p.path().join(".safemig/backups").exists()
            || p.safemig(&["backup", "list", "--format", "json"]).json()["backups"]
                == serde_json::json!([])
    );
}

#[test]
fn the_dump_and_the_manifest_describe_the_same_moment_under_writes() {
    let p = project();
    let child = p
        .command(
            &["--db", &p.url, "backup", "create"],
            &[("SAFEMIG_TEST_PAUSE_AFTER_DUMP", "2")],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The application keeps writing while the backup runs.
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_millis(1500) {
        p.exec("INSERT INTO public.library_tracks (title) VALUES ('written during the backup')");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let run = output(child.wait_with_output().unwrap());
    assert_eq!(run.code, 0, "{run:?}");
    let dir = PathBuf::from(run.stdout.lines().last().unwrap().trim());
    let full = verify(&p, &dir, true);
    assert_eq!(
        full.code, 0,
        "row counts and checksums agree with the dump: {full:?}"
    );
}

#[test]
fn a_verification_copied_from_another_backup_does_not_count() {
    let p = project();
    let first = create(&p);
    assert_eq!(verify(&p, &first, false).code, 0);
    p.exec("INSERT INTO public.library_tracks (title) VALUES ('one more')");
    let second = create(&p);
    std::fs::copy(
        first.join("verification.json"),
        second.join("verification.json"),
    )
    .unwrap();
    let list = p.safemig(&["backup", "list", "--format", "json"]).json();
    let newest = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["newest_verified"] == true)
        .unwrap()
        .clone();
    assert_eq!(
        newest["id"].as_str().unwrap(),
        first.file_name().unwrap().to_str().unwrap(),
        "{list}"
    );
    let human = p.safemig(&["backup", "list"]);
    assert!(
        human.stdout.contains("verification does not match"),
        "{human:?}"
    );
}

#[test]
fn a_history_table_edited_by_hand_is_read_not_a_crash() {
    let p = project();
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    // Someone changed the version column's type by hand: safemig reads it as text.
    p.exec("ALTER TABLE supabase_migrations.schema_migrations ALTER COLUMN version TYPE bigint USING version::bigint");
    let dir = create(&p);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let applied = manifest["applied_migrations"].as_array().unwrap();
    assert!(!applied.is_empty(), "{manifest}");
    assert!(
        applied.iter().all(|v| v
            .as_str()
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit()))),
        "{manifest}"
    );
}

#[test]
fn in_db_copies_match_the_snapshot_and_long_names_stay_whole() {
    let p = project();
    // Two tables whose copy names would be cut at 63 bytes to the same name.
    let long = "a_table_with_a_rather_long_name_for_its_own_good";
    p.exec(&format!(
        "CREATE TABLE public.{long}_one (id int); INSERT INTO public.{long}_one VALUES (1), (2);
         CREATE TABLE public.{long}_two (id int); INSERT INTO public.{long}_two VALUES (3);"
    ));
    let run = p.safemig(&["backup", "create", "--in-db-copy"]);
    assert_eq!(run.code, 0, "{run:?}");
    let dir = PathBuf::from(run.stdout.lines().last().unwrap().trim());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["in_db_copy"], "safemig_backup", "{manifest}");
    let critical: Vec<&serde_json::Value> = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["checksum"].is_string())
        .collect();
    let mut client = p.client();
    let copies: Vec<String> = client
        .query("SELECT relname::text FROM pg_class WHERE relnamespace = 'safemig_backup'::regnamespace AND relkind = 'r'", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(copies.len(), critical.len(), "{copies:?}");
    assert!(copies.iter().all(|c| c.len() <= 63));
    // Each copy holds the rows the manifest counted (the same snapshot).
    let mut total_copied: i64 = 0;
    for c in &copies {
        total_copied += client
            .query_one(&format!("SELECT count(*) FROM safemig_backup.\"{c}\""), &[])
            .unwrap()
            .get::<_, i64>(0);
    }
    let total_counted: i64 = critical.iter().map(|t| t["rows"].as_i64().unwrap()).sum();
    assert_eq!(total_copied, total_counted);
}

#[test]
fn a_shared_or_symlinked_backup_folder_keeps_its_mode_and_a_broken_link_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let p = project();
    // A shared folder (mode 1777, like /tmp): the backup goes inside it, 0700; the folder keeps its mode.
    let shared = p.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let run = p.safemig(&["backup", "create", "--out", shared.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        mode(&shared),
        0o1777,
        "a folder safemig did not create keeps its mode"
    );
    let made = PathBuf::from(run.stdout.lines().last().unwrap().trim());
    assert_eq!(mode(&made), 0o700, "the backup's own folder is private");
    // A symlinked .safemig/backups that points at a shared folder: followed, not chmod-ed.
    std::fs::create_dir_all(p.path().join(".safemig")).unwrap();
    std::os::unix::fs::symlink(&shared, p.path().join(".safemig/backups")).unwrap();
    let dir = create(&p);
    assert!(
        dir.starts_with(p.path().join(".safemig/backups")) || dir.starts_with(&shared),
        "{dir:?}"
    );
    assert_eq!(mode(&shared), 0o1777);
    // A dangling link and a looping one: said so, exit 2, nothing written.
    std::os::unix::fs::symlink(p.path().join("nowhere"), p.path().join("dangling")).unwrap();
    let run = p.safemig(&["backup", "create", "--out", "dangling"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("which does not exist"), "{run:?}");
    std::os::unix::fs::symlink(p.path().join("loop"), p.path().join("loop")).unwrap();
    let run = p.safemig(&["backup", "create", "--out", "loop"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("loops"), "{run:?}");
}

#[test]
fn restore_tables_checks_origin_columns_by_name_and_foreign_keys() {
    let p = project();
    let dir = create(&p);
    let tracks = checksum(&p, "public.library_tracks");
    let restore = |extra: &[&str]| {
        let mut args = vec![
            "restore",
            dir.to_str().unwrap(),
            "--tables",
            "public.library_tracks",
        ];
        args.extend_from_slice(extra);
        p.safemig(&args)
    };

    // The column order changed since the backup (r2_key dropped and added again):
    // values go into the columns of their name, and rows before/after are reported.
    p.exec("ALTER TABLE public.library_tracks DROP COLUMN r2_key; ALTER TABLE public.library_tracks ADD COLUMN r2_key text; DELETE FROM public.plays WHERE track_id > 10; DELETE FROM public.library_tracks WHERE id > 10;");
    let run = restore(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("59 rows restored (10 before"),
        "{run:?}"
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM public.library_tracks WHERE r2_key = 'k/' || id"),
        59
    );

    // A child row that would point at nothing: refused, nothing changed.
    p.exec("INSERT INTO public.library_tracks (title) VALUES ('new'); INSERT INTO public.plays (track_id) SELECT max(id) FROM public.library_tracks;");
    let before = p.fingerprint();
    let run = restore(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("break foreign keys")
            && run
                .stderr
                .contains("public.plays: 1 row points at no row of public.library_tracks"),
        "{run:?}"
    );
    assert_eq!(p.fingerprint(), before, "rolled back");

    // A table whose columns differ from the backup's: refused.
    p.exec("DELETE FROM public.plays WHERE track_id > 59; ALTER TABLE public.library_tracks ADD COLUMN bpm int;");
    let run = restore(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("in the table only: \"bpm\""), "{run:?}");
    p.exec("ALTER TABLE public.library_tracks DROP COLUMN bpm");

    // Another database's backup: refused unless meant.
    p.cluster.create_database("other").unwrap();
    let mut other = postgres::Client::connect(&p.cluster.url("other"), postgres::NoTls).unwrap();
    other
        .batch_execute(safemig_pg::supabase::PLATFORM_SQL)
        .unwrap();
    other.batch_execute(DATA).unwrap();
    other.batch_execute("DELETE FROM public.plays WHERE track_id > 3; DELETE FROM public.library_tracks WHERE id > 3;").unwrap();
    let made = p.safemig_raw(
        &[
            "--db",
            &p.cluster.url("other"),
            "backup",
            "create",
            "--out",
            "other-backups",
        ],
        &[],
    );
    assert_eq!(made.code, 0, "{made:?}");
    let other_dir = made.stdout.lines().last().unwrap().trim().to_string();
    let run = p.safemig(&["restore", &other_dir, "--tables", "public.library_tracks"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("is of database other"), "{run:?}");
    assert_eq!(p.i64("SELECT count(*) FROM public.library_tracks"), 60);
    assert_ne!(checksum(&p, "public.library_tracks"), tracks);
}

#[test]
fn a_backup_blocked_by_another_sessions_lock_names_that_session() {
    let p = project();
    let mut holder = p.client();
    holder
        .batch_execute("SET application_name = 'nightly-report'; BEGIN; LOCK TABLE public.plays IN ACCESS EXCLUSIVE MODE;")
        .unwrap();
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let run = p.safemig_raw(
        &["--db", p.url.as_str(), "backup", "create"],
        &[("SAFEMIG_BACKUP_LOCK_WAIT", "1")],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("blocked by: pid {pid} (nightly-report")),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("public.plays (AccessExclusiveLock)"),
        "{run:?}"
    );
    holder.batch_execute("COMMIT").unwrap();
}

#[test]
fn backups_in_a_git_work_tree_are_never_staged() {
    let p = project();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .current_dir(p.path())
            .args(args)
            .output()
            .expect("git runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(&["init", "-q"]);
    let dir = create(&p);
    assert!(dir.is_dir());
    assert!(p.path().join(".safemig/.gitignore").is_file());
    let status = git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(!status.contains(".safemig"), "{status}");
    // A backup folder of one's own inside the work tree, not ignored: a warning.
    let run = p.safemig(&["backup", "create", "--out", "dumps"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("inside a git work tree and not ignored"),
        "{run:?}"
    );
}

/// Issue 20 item 1: the platform's schemas are left out of the dump, but the
/// user accounts in them are not: a user deleted by mistake (and everything that
/// cascades from them) comes back from the backup.
#[test]
fn user_accounts_are_in_the_backup_and_a_deleted_user_comes_back() {
    let p = project();
    p.exec(
        "INSERT INTO auth.schema_migrations VALUES ('20240101');
         UPDATE auth.users SET email_confirmed_at = '2026-01-02 03:04:05+00', raw_user_meta_data = '{\"name\": \"A, \\\"the\\\" (first)\"}';
         INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-000000000002', 'b@example.com');
         INSERT INTO auth.identities (provider_id, user_id, identity_data, provider) \
           SELECT id::text, id, jsonb_build_object('sub', id, 'email', email), 'email' FROM auth.users;",
    );
    let users_before = checksum(&p, "auth.users");
    let identities_before = checksum(&p, "auth.identities");
    let profiles_before = checksum(&p, "public.users");
    let dir = create(&p);

    // In the manifest, with exact rows, and the files private.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let platform: Vec<(String, i64)> = manifest["platform_tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                format!(
                    "{}.{}",
                    t["schema"].as_str().unwrap(),
                    t["name"].as_str().unwrap()
                ),
                t["rows"].as_i64().unwrap(),
            )
        })
        .collect();
    let with_rows: Vec<&(String, i64)> = platform.iter().filter(|(_, rows)| *rows > 0).collect();
    assert_eq!(
        with_rows,
        vec![
            &("auth.identities".to_string(), 2),
            &("auth.users".to_string(), 2)
        ],
        "{platform:?}"
    );
    assert!(
        platform.iter().any(|(t, _)| t == "auth.sessions")
            && !platform
                .iter()
                .any(|(t, _)| t == "auth.schema_migrations" || t == "storage.migrations"),
        "every platform table but the platform's migration bookkeeping: {platform:?}"
    );
    for f in ["platform/auth.users.csv", "platform/auth.identities.csv"] {
        let meta = std::fs::metadata(dir.join(f)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{f}");
    }
    let text = std::fs::read_to_string(dir.join("manifest.txt")).unwrap();
    assert!(
        text.contains("platform data") && text.contains("auth.users"),
        "{text}"
    );
    // A full verification loads every copy and matches its checksum (auth.users has
    // a generated column, which COPY leaves out).
    let full = verify(&p, &dir, true);
    assert_eq!(full.code, 0, "{full:?}");

    // A user deleted by mistake: their profile and identity go with them.
    p.exec("DELETE FROM auth.users WHERE email = 'a@example.com'");
    assert_eq!(p.i64("SELECT count(*) FROM public.users"), 0);
    let only_users = p.safemig(&["restore", dir.to_str().unwrap(), "--tables", "auth.users"]);
    assert_eq!(only_users.code, 0, "{only_users:?}");
    assert_eq!(checksum(&p, "auth.users"), users_before);
    // What cascaded from the user was not restored with it: said, with the command.
    assert!(
        only_users.stdout.contains("auth.identities")
            && only_users.stdout.contains("public.users")
            && only_users.stdout.contains("--tables auth.users,"),
        "{only_users:?}"
    );
    let all = p.safemig(&[
        "restore",
        dir.to_str().unwrap(),
        "--tables",
        "auth.users,auth.identities,public.users",
    ]);
    assert_eq!(all.code, 0, "{all:?}");
    assert_eq!(checksum(&p, "auth.users"), users_before);
    assert_eq!(checksum(&p, "auth.identities"), identities_before);
    assert_eq!(checksum(&p, "public.users"), profiles_before);

    // A new environment: the complete restore brings the accounts too, before the
    // foreign keys into auth.users are made, and no new-user trigger runs again.
    p.cluster.create_database("fresh").unwrap();
    let url = p.cluster.url("fresh");
    let mut fresh = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    fresh
        .batch_execute(safemig_pg::supabase::PLATFORM_SQL)
        .unwrap();
    fresh
        .batch_execute(
            "CREATE FUNCTION public.count_signup() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'trigger ran'; END $$;
             CREATE TRIGGER count_signup AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.count_signup();",
        )
        .unwrap();
    let run = p.safemig(&["restore", dir.to_str().unwrap(), "--into", &url]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("platform data loaded"), "{run:?}");
    assert!(!run.stdout.contains("could not be restored"), "{run:?}");
    let users: i64 = fresh
        .query_one("SELECT count(*) FROM auth.users", &[])
        .unwrap()
        .get(0);
    assert_eq!(users, 2);
    let fk: i64 = fresh
        .query_one("SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.users'::regclass AND contype = 'f'", &[])
        .unwrap()
        .get(0);
    assert_eq!(fk, 1, "the foreign key into auth.users was restored");
}

/// A changed platform copy is caught by verification like any other file.
#[test]
fn a_changed_platform_copy_fails_verification() {
    let p = project();
    let dir = create(&p);
    let csv = dir.join("platform/auth.users.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, text.replace("a@example.com", "b@example.com")).unwrap();
    let run = verify(&p, &dir, false);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.all().contains("platform/auth.users.csv"), "{run:?}");
}

/// Issue 20 item 8: the rows a restore kept aside are listed with their age and
/// the old ones dropped on request; they are never drift.
#[test]
fn tables_kept_aside_are_listed_and_old_ones_dropped() {
    let p = project();
    let dir = create(&p);
    let run = p.safemig(&[
        "restore",
        dir.to_str().unwrap(),
        "--tables",
        "public.library_tracks",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    p.exec("CREATE TABLE safemig_backup.\"before_restore_20200101T000000000Z__public__old\" AS SELECT 1 AS x");
    let listed = p.safemig(&["backup", "aside", "--format", "json"]).json();
    let kept: Vec<String> = listed["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["table"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kept.len(), 2, "{listed}");
    assert!(kept[0].contains("20200101"), "oldest first: {kept:?}");
    let dropped = p
        .safemig(&[
            "backup",
            "aside",
            "--drop-older-than",
            "7",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(dropped["dropped"].as_array().unwrap().len(), 1, "{dropped}");
    assert_eq!(dropped["kept"].as_array().unwrap().len(), 1, "{dropped}");
    assert_eq!(
        p.i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'safemig_backup'"),
        1,
        "only the old table went"
    );
    assert!(!p.bool("SELECT to_regclass('safemig_backup.\"before_restore_20200101T000000000Z__public__old\"') IS NOT NULL"));
}

/// Backups written before content checksums were computed on the CSV stream
/// (manifest format 1: the server's md5 over the sorted md5 of each row) are
/// still verified and restored, with their own checksums, and a wrong one is
/// still caught.
#[test]
fn a_format_1_backup_still_verifies_and_restores_with_its_own_checksums() {
    let p = project();
    let dir = create(&p);
    let path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest["format_version"] = 1.into();
    let mut client = p.client();
    for list in ["tables", "platform_tables"] {
        for t in manifest[list].as_array_mut().unwrap() {
            if t["checksum"].is_null() {
                continue;
            }
            let table = format!(
                "{}.{}",
                t["schema"].as_str().unwrap(),
                t["name"].as_str().unwrap()
            );
            // Format 1's checksum, over the columns COPY writes (no generated ones).
            let columns: String = client
                .query_one(
                    "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute \
                     WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
                    &[&table],
                )
                .unwrap()
                .get(0);
            // The text form safemig takes values in.
            client
                .batch_execute(
                    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; \
                     SET extra_float_digits = 3; SET bytea_output = 'hex'",
                )
                .unwrap();
            let old: String = client
                .query_one(
                    &format!(
                        "SELECT coalesce(md5(string_agg(h, '' ORDER BY h)), md5('')) \
                         FROM (SELECT md5(ROW({columns})::text) AS h FROM {table} t) rows"
                    ),
                    &[],
                )
                .unwrap()
                .get(0);
            t["checksum"] = old.into();
        }
    }
    rewrite_manifest(&dir, &manifest);
    let dir_text = dir.to_str().unwrap();
    let verify = p.safemig(&["backup", "verify", dir_text, "--restore"]);
    assert_eq!(verify.code, 0, "{verify:?}");
    p.exec("UPDATE public.library_tracks SET title = 'changed' WHERE id <= 3");
    let restore = p.safemig(&["restore", dir_text, "--tables", "public.library_tracks"]);
    assert_eq!(restore.code, 0, "{restore:?}");
    assert_eq!(
        p.i64("SELECT count(*) FROM public.library_tracks WHERE title = 'changed'"),
        0
    );
    // A format 1 checksum that does not match is caught as before.
    let t = manifest["tables"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["name"] == "library_tracks")
        .unwrap();
    t["checksum"] = "00000000000000000000000000000000".into();
    rewrite_manifest(&dir, &manifest);
    let verify = p.safemig(&["backup", "verify", dir_text, "--restore"]);
    assert_eq!(verify.code, 1, "{verify:?}");
    assert!(verify.all().contains("library_tracks"), "{verify:?}");
}

/// Writes `manifest` as the backup's manifest.json, with its line of SHA256SUMS.
fn rewrite_manifest(dir: &Path, manifest: &serde_json::Value) {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string_pretty(manifest).unwrap();
    std::fs::write(dir.join("manifest.json"), &text).unwrap();
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    let sums: String = sums
        .lines()
        .map(|line| match line.ends_with("  manifest.json") {
            true => format!("{:x}  manifest.json\n", Sha256::digest(text.as_bytes())),
            false => format!("{line}\n"),
        })
        .collect();
    std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
}

/// Values COPY's text and CSV formats print differently, in a database whose
/// settings and a user's environment would print them differently again.
const TRICKY: &str = r#"CREATE TABLE public."Odd, Name" (id int PRIMARY KEY, "a ""q"" col" text, b text, t timestamptz,
  i interval, f float8, r real, n numeric, j jsonb, arr text[], d date, m money, tm time, bo boolean,
  g int GENERATED ALWAYS AS (id * 2) STORED);
INSERT INTO public."Odd, Name" (id, "a ""q"" col", b, t, i, f, r, n, j, arr, d, m, tm, bo) VALUES
 (1, 'plain', '\x00ff', '2024-01-01 12:00:00+05', '1 day 2 hours', 0.1, 0.1, 1.50, '{"a": "b,c\n"}', '{"x,y","q\"z",NULL}', '2024-02-29', 12.5, '10:00', true),
 (2, '', NULL, NULL, NULL, 'NaN', '-Infinity', NULL, NULL, '{}', NULL, NULL, NULL, NULL),
 (3, E'line\nbreak\r\ttab\\back', '\x', 'infinity', '-1 year', 1e300, 3.4e38, 123456789.123456789, '"str"', NULL, '-infinity', -1, '23:59:59.999999', false),
 (4, '\N', '\x5c4e', '2000-06-01 00:00:00 UTC', '0', -0.0, 1.17549435e-38, 'NaN', 'null', '{"\\N"}', '0001-01-01 BC', 0, '00:00', NULL),
 (5, '\.', NULL, NULL, NULL, 1.0000000000000002, NULL, NULL, '[1, 2.50, {"k": []}]', NULL, NULL, NULL, NULL, NULL),
 (6, 'é ü 日本 😀 "quoted", comma', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (7, E'\x01\x02\x0b\x0c\x08 ctrl', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE public.single (v text);
INSERT INTO public.single VALUES ('\.'), (''), (NULL), ('x'), ('a,b'), ('\N');
-- Values pg_dump's session prints otherwise: bytea under the database's
-- escape default, regclass under its empty search_path.
CREATE TABLE public.blobs (id int, b bytea, r regclass);
INSERT INTO public.blobs VALUES (1, '\x00ff5c', 'public.single'), (2, NULL, 'pg_catalog.pg_class');
-- A name pg_dump writes on two lines: its COPY line cannot be read, the
-- server copies it after the dump.
CREATE TABLE public."two
lines" (v text);
INSERT INTO public."two
lines" VALUES ('a'), ('b,c');
CREATE TABLE public.part (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE public.part_1 PARTITION OF public.part FOR VALUES FROM (0) TO (100);
INSERT INTO public.part VALUES (1, 'p1'), (2, 'p2');
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'America/New_York');
  EXECUTE format('ALTER DATABASE %I SET bytea_output = %L', current_database(), 'escape');
  EXECUTE format('ALTER DATABASE %I SET datestyle = %L', current_database(), 'SQL, DMY');
  EXECUTE format('ALTER DATABASE %I SET intervalstyle = %L', current_database(), 'iso_8601');
  EXECUTE format('ALTER DATABASE %I SET extra_float_digits = %L', current_database(), '-15');
END $$;"#;

#[test]
fn critical_copies_taken_from_the_dump_are_the_servers_csv_byte_for_byte() {
    use std::io::Read;
    let p = Project::new();
    p.migration("1_base.sql", "SELECT 1;");
    p.exec(TRICKY);
    p.config(
        "[backup]\ncritical = [\"public.\\\"Odd, Name\\\"\", \"public.single\", \"public.part\", \"public.blobs\", \"public.\\\"two\\nlines\\\"\"]\n",
    );
    // What a user's environment could say to pg_dump: safemig's settings win.
    let run = p.safemig_raw(
        &["--db", &p.url, "backup", "create"],
        &[
            ("PGTZ", "Asia/Tokyo"),
            ("PGCLIENTENCODING", "LATIN1"),
            ("PGDATESTYLE", "Postgres, DMY"),
            ("PGOPTIONS", "-c bytea_output=escape"),
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let dir = PathBuf::from(run.stdout.lines().last().unwrap().trim());
    let said = run.all();
    for table in ["public.Odd, Name", "public.single"] {
        assert!(
            said.contains(&format!(
                "{table} (critical): its CSV copy and checksum taken from the dump's data"
            )),
            "{said}"
        );
    }
    // What pg_dump's session prints otherwise is copied by the server.
    assert!(
        said.contains("copying public.blobs (critical: copied and checksummed) alongside the dump"),
        "{said}"
    );
    // A table whose rows the dump's data did not give: copied from the server
    // once data.sql is written, from the same snapshot.
    assert!(
        said.contains("lines from the server: the dump's data holds no rows for it"),
        "{said}"
    );
    // A partitioned table holds no rows of its own: its partitions' are copied
    // (COPY cannot read it; before, the backup failed on it).
    assert!(
        said.contains("public.part is partitioned: its partitions are copied (public.part_1)"),
        "{said}"
    );
    assert!(
        said.contains(
            "public.part_1 (critical): its CSV copy and checksum taken from the dump's data"
        ),
        "{said}"
    );
    // Each copy is what the server's COPY writes under the canonical settings.
    let mut client = p.client();
    client
        .batch_execute(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; \
             SET extra_float_digits = 3; SET bytea_output = 'hex'",
        )
        .unwrap();
    for (table, file) in [
        ("public.\"Odd, Name\"", "public.Odd__Name.csv"),
        ("public.single", "public.single.csv"),
        ("public.part_1", "public.part_1.csv"),
        ("public.blobs", "public.blobs.csv"),
        ("public.\"two\nlines\"", "public.two_lines.csv"),
    ] {
        let mut server = Vec::new();
        client
            .copy_out(&format!("COPY {table} TO STDOUT WITH (FORMAT csv, HEADER)"))
            .unwrap()
            .read_to_end(&mut server)
            .unwrap();
        let ours = std::fs::read(dir.join("tables").join(file)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&server),
            "{file}"
        );
    }
    // And the checksums hold against a restore of the dump.
    let proof = verify(&p, &dir, true);
    assert_eq!(proof.code, 0, "{proof:?}");
}
