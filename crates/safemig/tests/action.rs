//! The GitHub Action (`action.yml`) and its example workflow: valid YAML with the
//! keys GitHub requires, and the action's check step run locally on a fixture
//! repository with a pull request's base and head, as GitHub would run it.

use std::path::Path;
use std::process::Command;

fn yaml(path: &str) -> serde_yaml::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_action_and_the_example_workflow_have_what_github_requires() {
    let action = yaml("action.yml");
    assert!(action["name"].is_string() && action["description"].is_string());
    assert_eq!(action["runs"]["using"], "composite");
    let steps = action["runs"]["steps"].as_sequence().unwrap();
    assert!(steps.len() >= 2);
    for step in steps {
        // A composite run step must name its shell.
        if step.get("run").is_some() {
            assert!(step["shell"].is_string(), "{step:?}");
        } else {
            assert!(step["uses"].is_string(), "{step:?}");
        }
    }
    for input in ["dir", "fail-on", "database-url", "sarif"] {
        assert!(
            action["inputs"][input]["description"].is_string(),
            "input {input}"
        );
    }
    let workflow = yaml("examples/github/safemig.yml");
    assert!(workflow["on"]["pull_request"].is_mapping(), "{workflow:?}");
    let steps = workflow["jobs"]["check"]["steps"].as_sequence().unwrap();
    assert!(steps
        .iter()
        .any(|s| s["uses"].as_str().is_some_and(|u| u.contains("safemig@"))));
    assert_eq!(workflow["permissions"]["security-events"], "write");
    // The release workflow builds every platform the npm package knows.
    let release = yaml(".github/workflows/release.yml");
    let names: Vec<&str> = release["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../npm/safemig/package.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for dependency in package["optionalDependencies"].as_object().unwrap().keys() {
        let platform = dependency.trim_start_matches("@safemig/");
        assert!(
            names.contains(&platform),
            "{platform} is built by the release workflow: {names:?}"
        );
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_check_step_looks_at_the_changed_migrations_only_and_fails_on_risky() {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    let migrations = dir.join("supabase/migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    // Already on main: a risky file the pull request does not touch.
    std::fs::write(
        migrations.join("20250101000000_old.sql"),
        "DROP TABLE public.legacy;\n",
    )
    .unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    git(dir, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    git(dir, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(
        migrations.join("20250201000000_new.sql"),
        "ALTER TABLE public.orders DROP COLUMN note;\n",
    )
    .unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "change"]);

    let bin = Path::new(env!("CARGO_BIN_EXE_safemig"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let summary = dir.join("summary.md");
    let output = dir.join("output.txt");
    let run = |base: Option<&str>| {
        let mut command = Command::new("bash");
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/action-check"))
            .current_dir(dir)
            .env("PATH", &path)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &output)
            .env("RUNNER_TEMP", dir)
            .env_remove("DATABASE_URL");
        match base {
            Some(b) => command.env("GITHUB_BASE_REF", b),
            None => command.env_remove("GITHUB_BASE_REF"),
        };
        command.output().unwrap()
    };
    let out = run(Some("main"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("::error") && stdout.contains("20250201000000_new.sql"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("20250101000000_old.sql"),
        "only the changed file: {stdout}"
    );
    let summary_text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary_text.contains("drop-column") && summary_text.contains("1 file(s)"),
        "{summary_text}"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("safemig.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(std::fs::read_to_string(&output).unwrap().contains("sarif="));

    // Outside a pull request, every migration is checked.
    let out = run(None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("20250101000000_old.sql"));
}
