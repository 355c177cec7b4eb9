//! Throwaway PostgreSQL clusters: `initdb` + `pg_ctl` in a temporary folder,
//! listening on a unix socket in that folder (and, when asked, on 127.0.0.1),
//! trust authentication, removed when dropped — also when a test panics.
//!
//! Tests, `safemig demo`, rehearsals and full backup verification all use this.
//! `initdb` runs once per PostgreSQL installation and user: its result is kept as a
//! template under the system temp folder and copied for each cluster, which makes a
//! start take a few hundred milliseconds instead of seconds.
//!
//! PostgreSQL refuses to run as root. When safemig runs as root, the server runs
//! as the `postgres` system user (Debian's packages create it).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::connect::Target;
use crate::PgError;

/// Options for [`Ephemeral::start_with`].
#[derive(Debug, Clone, Default)]
pub struct EphemeralOptions {
    /// Also listen on 127.0.0.1 (loopback only, never another address).
    pub tcp: bool,
    /// Extra `postgresql.conf` lines, e.g. `ssl = on`.
    pub settings: Vec<String>,
    /// Demand a password (scram-sha-256) on TCP connections; the unix socket stays
    /// `trust`, so the harness itself can always get in. For tests of credentials.
    pub password_auth: bool,
    /// Serve TLS with this certificate chain and key (PEM); for tests of `sslmode`.
    pub tls: Option<ServerTls>,
    /// Run this PostgreSQL major (the target's), when installed; see [`crate::install::server_for`].
    pub major: Option<u32>,
}

/// A server certificate (PEM, leaf first) and its private key (PEM).
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A running throwaway cluster. Dropping it stops the server and removes its files.
pub struct Ephemeral {
    root: tempfile::TempDir,
    bin_dir: PathBuf,
    port: u16,
    run_as: Option<(u32, u32)>,
    options: EphemeralOptions,
    running: bool,
    major: u32,
    notes: Vec<String>,
}

impl Ephemeral {
    /// Starts a cluster with the default options (unix socket only).
    pub fn start() -> Result<Ephemeral, PgError> {
        Ephemeral::start_with(EphemeralOptions::default())
    }

    pub fn start_with(options: EphemeralOptions) -> Result<Ephemeral, PgError> {
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(postgres_user()?)
        } else {
            None
        };
        let (installation, note) = crate::install::server_for(options.major)?;
        let mut notes: Vec<String> = note.into_iter().collect();
        let bin_dir = match crate::install::with_standins(&installation, run_as) {
            Ok(bin) => bin,
            Err(why) => {
                notes.push(format!(
                    "the throwaway PostgreSQL offers no stand-ins for Supabase's extensions (pg_cron, pg_net, vector, \
                     ...), so migrations that create them fail here: {why}"
                ));
                installation.bin.clone()
            }
        };
        let template = ensure_template(&bin_dir, run_as)?;
        let root = tempfile::Builder::new()
            .prefix("safemig-pg-")
            .tempdir()
            .map_err(|e| PgError::Ephemeral(format!("cannot create a temporary folder: {e}")))?;
        // The unix socket lives here and authentication is `trust`: only the server's
        // user (and root) may reach it.
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o700)).map_err(
            |e| {
                PgError::Ephemeral(format!(
                    "cannot make {} private: {e}",
                    root.path().display()
                ))
            },
        )?;
        let data = root.path().join("data");
        let status = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&data)
            .status()
            .map_err(|e| PgError::Ephemeral(format!("cannot run cp: {e}")))?;
        if !status.success() {
            return Err(PgError::Ephemeral(format!(
                "copying the cluster template {} failed",
                template.display()
            )));
        }
        if options.password_auth {
            let hba = data.join("pg_hba.conf");
            std::fs::write(
                &hba,
                "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
            )
            .map_err(|e| PgError::Ephemeral(format!("cannot write {}: {e}", hba.display())))?;
            if let Some((uid, gid)) = run_as {
                chown(&hba, uid, gid)?;
            }
        }
        let mut options = options;
        if let Some(tls) = &options.tls {
            // The server insists that its key is private to its own user.
            for (name, text, mode) in [
                ("server.crt", &tls.cert_pem, 0o644),
                ("server.key", &tls.key_pem, 0o600),
            ] {
                let path = root.path().join(name);
                std::fs::write(&path, text)
                    .and_then(|()| {
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    })
                    .map_err(|e| {
                        PgError::Ephemeral(format!("cannot write {}: {e}", path.display()))
                    })?;
                if let Some((uid, gid)) = run_as {
                    chown(&path, uid, gid)?;
                }
            }
            options.settings.push("ssl=on".into());
            options.settings.push(format!(
                "ssl_cert_file={}",
                root.path().join("server.crt").display()
            ));
            options.settings.push(format!(
                "ssl_key_file={}",
                root.path().join("server.key").display()
            ));
        }
        if let Some((uid, gid)) = run_as {
            chown(root.path(), uid, gid)?;
        }
        let mut cluster = Ephemeral {
            root,
            bin_dir,
            port: 0,
            run_as,
            options,
            running: false,
            major: installation.major,
            notes,
        };
        let mut last_error = String::new();
        // A free port can be taken by someone else between choosing and binding it: retry.
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => {
                    cluster.running = true;
                    return Ok(cluster);
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(PgError::Ephemeral(format!(
            "the throwaway PostgreSQL did not start: {last_error}"
        )))
    }

    fn pg_ctl_start(&self) -> Result<(), PgError> {
        // fsync=off: the OS may lose data on power loss, which a throwaway cluster
        // never needs to survive. synchronous_commit stays on, so a COMMIT has
        // reached the OS before it returns and survives a crash of the server
        // (`pg_ctl stop -m immediate`), as on a real server: fault tests rely on it.
        let mut server_options = format!(
            "-p {} -k {} -c listen_addresses={} -c fsync=off -c full_page_writes=off \
             -c max_connections=60 -c shared_buffers=32MB -c max_wal_size=1GB",
            self.port,
            self.socket_dir().display(),
            if self.options.tcp { "127.0.0.1" } else { "''" },
        );
        for setting in &self.options.settings {
            server_options.push_str(&format!(" -c {setting}"));
        }
        let output = self
            .command("pg_ctl")
            .arg("start")
            .arg("-w")
            .arg("-t")
            .arg("30")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.root.path().join("server.log"))
            .arg("-o")
            .arg(server_options)
            .output()
            .map_err(|e| PgError::Ephemeral(format!("cannot run pg_ctl: {e}")))?;
        if !output.status.success() {
            let log =
                std::fs::read_to_string(self.root.path().join("server.log")).unwrap_or_default();
            return Err(PgError::Ephemeral(format!(
                "{}\n{}",
                output_text(&output),
                tail(&log, 20)
            )));
        }
        Ok(())
    }

    /// A command for one of the cluster's server programs, run as the server's user.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command.current_dir(self.root.path());
        command
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The folder holding the server's unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.path().to_path_buf()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The server's major version.
    pub fn major(&self) -> u32 {
        self.major
    }

    /// What a report should say about this server: another major than asked
    /// for, or no stand-in extensions.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Connection URL for `db` as the superuser `postgres`, over the unix socket.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql:///{db}?host={}&port={}&user=postgres&sslmode=disable",
            self.socket_dir().display(),
            self.port
        )
    }

    /// Connection URL over TCP on 127.0.0.1 (needs `tcp: true`).
    pub fn tcp_url(&self, db: &str, user: &str) -> String {
        format!("postgresql://{user}@127.0.0.1:{}/{db}", self.port)
    }

    pub fn target(&self, db: &str) -> Target {
        Target::resolve_with(Some(&self.url(db)), &|_| None)
            .expect("an ephemeral URL always parses")
    }

    pub fn connect(&self, db: &str) -> Result<postgres::Client, PgError> {
        self.target(db).connect()
    }

    /// Creates a database (name quoted, so any name works).
    pub fn create_database(&self, name: &str) -> Result<(), PgError> {
        let mut client = self.connect("postgres")?;
        client
            .batch_execute(&format!("CREATE DATABASE {}", crate::quote_ident(name)))
            .map_err(|e| PgError::sql("creating a database", &e))
    }

    /// The server's log so far (for test failure messages).
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("server.log")).unwrap_or_default()
    }

    /// Stops the server at once, like a crash (`pg_ctl stop -m immediate`).
    pub fn stop_immediate(&mut self) -> Result<(), PgError> {
        self.stop("immediate")
    }

    /// Starts a stopped server again, on the same port and socket.
    pub fn restart(&mut self) -> Result<(), PgError> {
        if !self.running {
            self.pg_ctl_start()?;
            self.running = true;
        }
        Ok(())
    }

    fn stop(&mut self, mode: &str) -> Result<(), PgError> {
        if !self.running {
            return Ok(());
        }
        let output = self
            .command("pg_ctl")
            .args(["stop", "-w", "-m", mode, "-D"])
            .arg(self.data_dir())
            .output()
            .map_err(|e| PgError::Ephemeral(format!("cannot run pg_ctl: {e}")))?;
        self.running = false;
        if !output.status.success() {
            return Err(PgError::Ephemeral(output_text(&output)));
        }
        Ok(())
    }
}

impl Drop for Ephemeral {
    fn drop(&mut self) {
        // Immediate: a throwaway cluster has nothing worth a clean shutdown.
        let _ = self.stop("immediate");
    }
}

fn postgres_user() -> Result<(u32, u32), PgError> {
    let name = std::ffi::CString::new("postgres").expect("no NUL");
    // SAFETY: getpwnam returns a pointer into static storage or NULL; we copy the ids at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(PgError::Ephemeral(
            "PostgreSQL will not run as root, and there is no `postgres` system user to run it as\n  \
             hint: `apt-get install postgresql` creates it, or run safemig as an ordinary user"
                .into(),
        ));
    }
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), PgError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| {
        PgError::Ephemeral(format!(
            "cannot hand {} to the postgres user: {e}",
            path.display()
        ))
    })
}

/// `initdb` once per installation and user, kept under the temp folder.
fn ensure_template(bin_dir: &Path, run_as: Option<(u32, u32)>) -> Result<PathBuf, PgError> {
    let version = Command::new(bin_dir.join("initdb"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let key = {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{}|{version}|{:?}|v1", bin_dir.display(), run_as));
        hex::encode(&digest[..6])
    };
    let uid = unsafe { libc::geteuid() };
    let base = std::env::temp_dir();
    let template = base.join(format!("safemig-template-{uid}-{key}"));
    // The temp folder is shared: a template is used only when it is a real
    // folder of ours (or of the server's user) that no one else can write into;
    // else someone could plant a postgresql.conf that the server would run.
    let trusted = |dir: &Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(dir).is_ok_and(|m| {
            m.file_type().is_dir()
                && (m.uid() == uid || run_as.is_some_and(|(owner, _)| owner == m.uid()))
                && m.mode() & 0o022 == 0
        })
    };
    let ready = |dir: &Path| {
        dir.join("PG_VERSION").is_file() && dir.join("postgresql.conf").is_file() && trusted(dir)
    };
    if ready(&template) {
        return Ok(template);
    }
    // One builder per process: threads (parallel tests) would share the building
    // folder below, named after the process, and initdb each other's files.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if ready(&template) {
        return Ok(template);
    }
    // Build it beside the final place, then rename: concurrent builders never see half a template.
    // A new folder of our own, under a random name, moved into place when built.
    let building = tempfile::Builder::new()
        .prefix(&format!("safemig-template-{uid}-{key}."))
        .tempdir_in(&base)
        .map_err(|e| {
            PgError::Ephemeral(format!("cannot create a folder in {}: {e}", base.display()))
        })?
        .keep();
    std::fs::set_permissions(&building, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
        PgError::Ephemeral(format!(
            "cannot set permissions on {}: {e}",
            building.display()
        ))
    })?;
    if let Some((uid, gid)) = run_as {
        chown(&building, uid, gid)?;
    }
    let mut command = Command::new(bin_dir.join("initdb"));
    command
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
            "-D",
        ])
        .arg(&building)
        .current_dir(&base);
    if let Some((uid, gid)) = run_as {
        command.uid(uid).gid(gid);
    }
    let output = command
        .output()
        .map_err(|e| PgError::Ephemeral(format!("cannot run initdb: {e}")))?;
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&building);
        return Err(PgError::Ephemeral(format!(
            "initdb failed: {}",
            output_text(&output)
        )));
    }
    match std::fs::rename(&building, &template) {
        Ok(()) => Ok(template),
        Err(_) if ready(&template) => {
            let _ = std::fs::remove_dir_all(&building);
            Ok(template)
        }
        // Someone else's folder holds the name: ours is used where it is, uncached.
        Err(_) => Ok(building),
    }
}

fn free_port() -> Result<u16, PgError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| PgError::Ephemeral(format!("cannot find a free port on 127.0.0.1: {e}")))?;
    Ok(listener
        .local_addr()
        .map_err(|e| PgError::Ephemeral(e.to_string()))?
        .port())
}

fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
    .trim()
    .to_string()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
