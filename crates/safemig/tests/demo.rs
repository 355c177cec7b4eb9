//! `safemig demo`: the seed runbook end to end on its own throwaway PostgreSQL.
//! Each step checks that it did what it says; the run exits 0 only when all did.

use std::process::Command;

#[test]
fn the_demo_runs_the_whole_runbook_and_exits_0() {
    let keep = tempfile::tempdir().unwrap();
    let project = keep.path().join("project");
    let out = Command::new(env!("CARGO_BIN_EXE_safemig"))
        .args(["demo", "--keep"])
        .arg(&project)
        .env("NO_COLOR", "1")
        .output()
        .expect("safemig runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for expected in [
        "[14/14]",
        "proven on a throwaway copy: rolled back (1 object(s) changed), then migrated again",
        "took back 20250831022400_add_r2_storage_fields",
        "no --allow-risky, no [[allow]]",
        "risky[unattached-trigger-function] trigger function public.handle_new_user()",
        "restored into a second throwaway PostgreSQL",
        "risky[use-before-create]",
        "rehearsal: the schema (and migration history)",
        "rewrites public.library_tracks",
        "rolled back by the guards",
        "✓ trigger on_auth_user_created ON auth.users  enabled",
        "✓ new_user_creates_profile.sql",
        "59 library_tracks again",
        "safemig fix --write",
        "kept out: public.library_tracks.r2_key holds 59 values",
        "Demo complete",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // The example project is kept, with the renamed trigger migration and the SQL test.
    assert!(project
        .join("supabase/migrations/20250831022100_add_user_creation_trigger.sql")
        .is_file());
    assert!(project
        .join("supabase/tests/new_user_creates_profile.sql")
        .is_file());
    assert!(project.join(".safemig/audit.jsonl").is_file());
}

#[test]
fn the_demo_is_for_people_not_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_safemig"))
        .args(["--format", "json", "demo"])
        .output()
        .expect("safemig runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no JSON output"));
}
