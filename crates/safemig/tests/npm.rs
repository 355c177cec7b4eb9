//! Install without Rust (issue 17 item 6), for this machine's platform: the npm
//! packages are assembled and packed (`scripts/npm-pack`), installed from the
//! tarballs into a fresh folder, and `npx safemig check` runs on a project with
//! no Rust toolchain on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

#[test]
fn npx_safemig_check_works_from_the_packed_tarballs_without_rust() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pack = Command::new("bash")
        .arg(root.join("scripts/npm-pack"))
        .arg(env!("CARGO_BIN_EXE_safemig"))
        .output()
        .expect("scripts/npm-pack runs (node and npm are installed by scripts/setup)");
    assert!(
        pack.status.success(),
        "{}",
        String::from_utf8_lossy(&pack.stderr)
    );
    let tarballs: Vec<String> = String::from_utf8_lossy(&pack.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(tarballs.len(), 2, "{tarballs:?}");

    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::write(
        dir.join("package.json"),
        r#"{"name": "app", "version": "1.0.0", "private": true}"#,
    )
    .unwrap();
    // Only node's folder and the system's: no cargo, no rustc.
    let node = which("node").expect("node on PATH");
    let path = format!("{}:/usr/bin:/bin", node.parent().unwrap().display());
    assert!(
        std::env::split_paths(&path)
            .all(|d| !d.join("cargo").exists() && !d.join("rustc").exists()),
        "a PATH without Rust: {path}"
    );
    let mut install = Command::new("npm");
    install
        .args([
            "install",
            "--offline",
            "--no-audit",
            "--no-fund",
            "--silent",
        ])
        .args(&tarballs)
        .current_dir(dir)
        .env("PATH", &path)
        .env("npm_config_cache", dir.join(".npm-cache"));
    let out = install.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::create_dir_all(dir.join("supabase/migrations")).unwrap();
    std::fs::write(
        dir.join("supabase/migrations/20250101000000_drop.sql"),
        "DROP TABLE public.orders;\n",
    )
    .unwrap();
    let run = Command::new("npx")
        .args(["--offline", "safemig", "check", "--format", "json"])
        .current_dir(dir)
        .env("PATH", &path)
        .env("npm_config_cache", dir.join(".npm-cache"))
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(json["files"][0]["class"], "risky", "{json}");
}
