//! Test-only fault-injection points, so fault tests can stop safemig at a precise
//! place (and kill it, stop the server, or cut its connection there) without
//! sleeps and luck. Inert unless the `SAFEMIG_TEST_*` variables below are set;
//! never set them outside tests.
//!
//! - `SAFEMIG_TEST_PAUSE_AT=N` with `SAFEMIG_TEST_PAUSE_MARKER=PATH`: at the N-th
//!   boundary (1-based) of a real `migrate` run — before each statement, before the
//!   history rows, before `COMMIT`, after `COMMIT` — safemig writes PATH (holding
//!   `N <what>`) and blocks until `PATH.go` exists or it is killed.
//! - `SAFEMIG_TEST_PAUSE_AFTER_DUMP=marker` with `SAFEMIG_TEST_PAUSE_MARKER=PATH`:
//!   the same pause in `backup create`, right after `pg_dump` finished;
//!   `SAFEMIG_TEST_PAUSE_AFTER_DUMP=SECONDS`: a sleep there instead (the backup's
//!   snapshot transaction stays open meanwhile: tests only).
//! - `SAFEMIG_TEST_PANIC=TEXT` (debug builds only): a panic carrying TEXT, to prove
//!   panic messages are redacted.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

static BOUNDARIES: AtomicUsize = AtomicUsize::new(0);

/// A statement boundary of a real migrate run. `what` is only evaluated when a test asked for a pause.
pub fn boundary(what: impl FnOnce() -> String) {
    let Some(at) = std::env::var("SAFEMIG_TEST_PAUSE_AT")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return;
    };
    let n = BOUNDARIES.fetch_add(1, Ordering::SeqCst) + 1;
    if n == at {
        pause(&format!("{n} {}", what()));
    }
}

/// Writes the marker file (atomically) and blocks until `<marker>.go` exists.
pub fn pause(what: &str) {
    let Some(marker) = std::env::var_os("SAFEMIG_TEST_PAUSE_MARKER").map(PathBuf::from) else {
        return;
    };
    let tmp = marker.with_extension("tmp");
    if std::fs::write(&tmp, what)
        .and_then(|()| std::fs::rename(&tmp, &marker))
        .is_err()
    {
        return;
    }
    let mut go = marker.into_os_string();
    go.push(".go");
    let go = PathBuf::from(go);
    while !go.exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
