//! Fuzzing on the stable toolchain: a small mutation-based fuzz loop (no cargo-fuzz,
//! which needs nightly) for three targets:
//!
//! - `analyze`: whole migration files through the analyzer (split, lint, ordering);
//! - `manifest`: a backup's `manifest.json` through `Backup::open` and `quick_check`;
//! - `config`: `safemig.toml` through `Config::load` and what reads it afterwards.
//!
//! The corpus is seeded from the project's fixtures (`benches/corpus`,
//! `tests/fuzz/seeds/<target>/`). Each input is mutated (bit flips, byte inserts and
//! deletes, duplicated or spliced ranges, dictionary tokens) and run under
//! `catch_unwind`; an input that panics is saved to `tests/fuzz/regressions/<target>/`.
//!
//! - `fuzz_regressions_and_seeds_never_panic` (always runs, in `make test`): replays every
//!   seed and every saved regression.
//! - `fuzz` (`#[ignore]`): the bounded loop; `scripts/fuzz` runs it per target
//!   (`FUZZ_TARGET`, `FUZZ_SECONDS`, `FUZZ_SEED`).

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use safemig_analyze::{lint_file, order, LintOptions};

const TARGETS: [&str; 4] = ["analyze", "manifest", "config", "url"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut dirs = vec![root().join("tests/fuzz/seeds").join(match target {
        "analyze" => "sql",
        other => other,
    })];
    if target == "analyze" {
        dirs.push(root().join("../../benches/corpus"));
    }
    let out: Vec<Vec<u8>> = dirs
        .iter()
        .flat_map(|d| files_in(d))
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

fn regressions(target: &str) -> Vec<PathBuf> {
    files_in(&root().join("tests/fuzz/regressions").join(target))
}

/// Runs one input through a target. Errors are fine; panics are what we hunt.
fn run_target(target: &str, input: &[u8], scratch: &Path) {
    match target {
        "analyze" => {
            let text = String::from_utf8_lossy(input);
            let _ = safemig_analyze::split(&text);
            let lint = lint_file(&text, &LintOptions::default());
            for f in lint.all_findings() {
                assert!(
                    f.line >= 1 && f.column >= 1,
                    "finding at {}:{}",
                    f.line,
                    f.column
                );
            }
            let migrations = [order::Migration {
                version: "1",
                label: "1_a.sql",
                sql: &text,
                statements: &lint.parsed.statements,
            }];
            let _ = order::analyze(&migrations, &BTreeSet::new());
        }
        "manifest" => {
            std::fs::write(scratch.join("manifest.json"), input).unwrap();
            if let Ok(backup) = safemig_pg::backup::Backup::open(scratch) {
                let _ = backup.verified();
                let _ = backup.size();
                let _ = safemig_pg::backup::quick_check(&backup);
            }
        }
        "config" => {
            let path = scratch.join("safemig.toml");
            std::fs::write(&path, input).unwrap();
            if let Ok(config) = safemig_project::Config::load(&path) {
                let _ = config.migrations_dir(None);
                let _ = config.backup_dir();
                let _ = config.allowed_losses("1", "1_a.sql", "public.t");
                let _ = config.risky_allowed("1", "1_a.sql");
            }
        }
        "url" => {
            // Connection strings: URL or key=value, with TLS parameters; then what
            // safemig prints about them, which must never show the password.
            let text = String::from_utf8_lossy(input);
            if let Ok(target) = safemig_pg::Target::resolve_with(Some(&text), &|_| None) {
                let shown = target.display();
                let _ = target.user();
                for secret in passwords_in(&text) {
                    assert!(
                        !shown.contains(&secret),
                        "display() shows the password {secret:?}: {shown}"
                    );
                }
            }
            let _ = safemig_pg::redact::redact(&text);
        }
        other => panic!("unknown fuzz target {other}"),
    }
}

/// Passwords a connection string plainly carries (`user:PASSWORD@` or `password=PASSWORD`),
/// at least 6 characters long, so that short ones that happen to appear elsewhere do not count.
fn passwords_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(rest) = text.split("://").nth(1) {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                out.push(password.to_string());
            }
        }
    } else if let Some(rest) = text.split("password=").nth(1) {
        out.push(rest.split_whitespace().next().unwrap_or("").to_string());
    }
    out.retain(|p| p.len() >= 6 && p.chars().all(|c| c.is_ascii_alphanumeric()));
    out
}

/// Runs `input`; Some(panic message) if it panicked.
fn panics(target: &str, input: &[u8], scratch: &Path) -> Option<String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| run_target(target, input, scratch)))
        .err()
        .map(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
}

#[test]
fn fuzz_regressions_and_seeds_never_panic() {
    let scratch = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for target in TARGETS {
        for input in seeds(target) {
            if let Some(message) = panics(target, &input, scratch.path()) {
                failures.push(format!("{target} seed: {message}"));
            }
        }
        for file in regressions(target) {
            if let Some(message) = panics(target, &std::fs::read(&file).unwrap(), scratch.path()) {
                failures.push(format!("{}: {message}", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// xorshift64*: deterministic for a given FUZZ_SEED, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&str] = &[
    "$$",
    "$a$",
    "'",
    "''",
    "\"",
    "\"\"",
    "--",
    "/*",
    "*/",
    ";",
    "\n",
    "\\",
    "\\.\n",
    "\\connect x\n",
    "E'\\''",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "\0",
    "\u{feff}",
    "é",
    "日本",
    "\r\n",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "DO $$ BEGIN ",
    " END $$",
    "CREATE TABLE ",
    "DROP TABLE ",
    "ALTER TABLE ",
    "TRUNCATE ",
    "EXECUTE ",
    "CONCURRENTLY ",
    "COPY t FROM stdin;\n",
    "-- safemig:ignore ",
    "[[allow]]\n",
    "[guard]\n",
    "[guard.min_rows]\n",
    "\"public.t\" = ",
    "18446744073709551616",
    "-1",
    "1e400",
    "\"5s\"",
    "\"0\"",
    "true",
    "null",
    "\"files\": [",
    "\"tables\": [",
    "\"path\": \"../../etc/passwd\"",
    "\"size\": ",
    "\"sha256\": ",
    "\"format_version\": 1",
    "9999999999999999999999",
];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                out.insert(i, rng.next() as u8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                out.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let copy = out[i..i + n].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, copy);
            }
            4 => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let i = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - i).min(512));
                    let at = rng.below(len + 1);
                    out.splice(at..at, other[i..i + n].iter().copied());
                }
            }
            5 if len > 0 => {
                let cut = rng.below(len);
                out.truncate(cut);
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let at = rng.below(len + 1);
                out.splice(at..at, token.iter().copied());
            }
        }
    }
    out.truncate(256 * 1024);
    out
}

#[test]
#[ignore = "a bounded fuzz loop: run it with scripts/fuzz"]
fn fuzz() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x05af_e3e9);
    let targets: Vec<String> = match std::env::var("FUZZ_TARGET") {
        Ok(t) => vec![t],
        Err(_) => TARGETS.iter().map(|t| t.to_string()).collect(),
    };
    let scratch = tempfile::tempdir().unwrap();
    // Panics are expected while hunting; keep the output to the summary.
    std::panic::set_hook(Box::new(|_| {}));
    let mut found = Vec::new();
    for target in &targets {
        let mut rng = Rng(seed | 1);
        let mut corpus = seeds(target);
        corpus.extend(
            regressions(target)
                .iter()
                .map(|f| std::fs::read(f).unwrap()),
        );
        let started = Instant::now();
        let mut runs = 0u64;
        while started.elapsed() < Duration::from_secs(seconds) {
            let base = corpus[rng.below(corpus.len())].clone();
            let input = mutate(&mut rng, &base, &corpus);
            runs += 1;
            if let Some(message) = panics(target, &input, scratch.path()) {
                let dir = root().join("tests/fuzz/regressions").join(target);
                std::fs::create_dir_all(&dir).unwrap();
                let name = format!("crash-{:016x}", fxhash(&input));
                std::fs::write(dir.join(&name), &input).unwrap();
                found.push(format!("{target}/{name}: {message}"));
                if found.len() > 20 {
                    break;
                }
            } else if corpus.len() < 2000 && rng.below(50) == 0 {
                // Keep some mutants: later rounds build on them.
                corpus.push(input);
            }
        }
        eprintln!(
            "fuzz {target}: {runs} inputs in {seconds}s, {} crashes so far",
            found.len()
        );
    }
    let _ = std::panic::take_hook();
    assert!(
        found.is_empty(),
        "inputs that panic (saved as regressions):\n{}",
        found.join("\n")
    );
}

fn fxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
