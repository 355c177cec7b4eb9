//! Where to connect and how: `--db URL`, `DATABASE_URL`, libpq's `PG*` variables
//! and `.pgpass`, with `sslmode` disable / allow / prefer / require / verify-ca /
//! verify-full through rustls. No password is ever part of a [`Target`]'s display.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postgres::config::{Host, SslMode as WireSslMode};
use postgres::{Client, Config, NoTls};

use crate::redact::{redact, register_secret};
use crate::PgError;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, PgError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(PgError::BadTarget(format!(
                    "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A resolved connection target.
#[derive(Clone)]
pub struct Target {
    config: Config,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl Target {
    /// Resolves the target like libpq: `url` (from `--db` or `DATABASE_URL`) first,
    /// then `PG*` variables for whatever it leaves open, then `.pgpass` for the password.
    pub fn resolve(url: Option<&str>) -> Result<Target, PgError> {
        Target::resolve_with(url, &|name| std::env::var(name).ok())
    }

    pub fn resolve_with(
        url: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Target, PgError> {
        let raw = url.unwrap_or("").trim();
        refuse_unescaped_at(raw)?;
        let (stripped, params) = take_tls_params(raw)?;
        let mut config: Config = stripped.parse().map_err(|e: postgres::Error| {
            PgError::BadTarget(format!(
                "cannot parse the connection string {}: {}\n  hint: use postgresql://USER@HOST:PORT/DATABASE or key=value pairs as libpq does",
                redact(raw),
                e
            ))
        })?;
        if let Some(password) = config.get_password() {
            register_secret(&String::from_utf8_lossy(password));
        }
        if config.get_hosts().is_empty() {
            match env("PGHOST").filter(|h| !h.is_empty()) {
                Some(hosts) => {
                    for host in hosts.split(',') {
                        config.host(host);
                    }
                }
                None => {
                    // libpq's default: the local unix socket, where Debian puts it.
                    let socket_dir = ["/var/run/postgresql", "/tmp"]
                        .into_iter()
                        .find(|d| Path::new(d).is_dir())
                        .unwrap_or("/tmp");
                    config.host(socket_dir);
                }
            }
        }
        if config.get_ports().is_empty() {
            if let Some(port) = env("PGPORT").filter(|p| !p.is_empty()) {
                let port: u16 = port.parse().map_err(|_| {
                    PgError::BadTarget(format!("PGPORT `{port}` is not a port number"))
                })?;
                config.port(port);
            }
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .filter(|u| !u.is_empty())
                .unwrap_or_else(safemig_project::audit::os_user);
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            let db = env("PGDATABASE")
                .filter(|d| !d.is_empty())
                .or_else(|| config.get_user().map(str::to_string));
            if let Some(db) = db {
                config.dbname(&db);
            }
        }
        if config.get_password().is_none() {
            if let Some(password) = env("PGPASSWORD").filter(|p| !p.is_empty()) {
                register_secret(&password);
                config.password(password);
            } else if let Some(password) = pgpass_lookup(&config, env) {
                register_secret(&password);
                config.password(password);
            }
        }
        if config.get_connect_timeout().is_none() {
            let secs = env("PGCONNECT_TIMEOUT")
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(10);
            config.connect_timeout(Duration::from_secs(secs.max(2)));
        }
        if config.get_application_name().is_none() {
            config.application_name("safemig");
        }
        let sslmode = match params
            .sslmode
            .or_else(|| env("PGSSLMODE").filter(|s| !s.is_empty()))
        {
            Some(mode) => SslMode::parse(&mode)?,
            None => SslMode::Prefer,
        };
        let sslrootcert = params
            .sslrootcert
            .or_else(|| env("PGSSLROOTCERT"))
            .map(PathBuf::from);
        config.ssl_mode(match sslmode {
            SslMode::Disable => WireSslMode::Disable,
            SslMode::Allow | SslMode::Prefer => WireSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireSslMode::Require,
        });
        Ok(Target {
            config,
            sslmode,
            sslrootcert,
        })
    }

    /// `postgresql://user@host:port/db?sslmode=...` with no password, for people and logs.
    /// Redacted too: a URL pasted twice puts the password into the database name.
    pub fn display(&self) -> String {
        redact(&self.display_raw())
    }

    fn display_raw(&self) -> String {
        let user = self.config.get_user().unwrap_or("");
        let db = self.config.get_dbname().unwrap_or("");
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => {
                return format!("postgresql://{user}@/{db}?host={}&port={port}", p.display())
            }
            None => String::new(),
        };
        format!(
            "postgresql://{user}@{host}:{port}/{db}?sslmode={}",
            self.sslmode.as_str()
        )
    }

    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("")
    }

    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    /// The host as libpq tools take it: a name, an address or a socket folder.
    pub fn host(&self) -> String {
        match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => String::new(),
        }
    }

    pub fn port(&self) -> u16 {
        self.config.get_ports().first().copied().unwrap_or(5432)
    }

    /// Supabase's pooler in transaction mode (port 6543 of `*.pooler.supabase.com`):
    /// each transaction may run on another server connection, so a session's
    /// advisory lock and settings do not hold. Port 5432 of the same host is the
    /// session mode, which is fine.
    pub fn is_transaction_pooler(&self) -> bool {
        let host = self.host().to_ascii_lowercase();
        host.ends_with(".pooler.supabase.com") && self.port() == 6543
    }

    /// The password, for passing to child processes through `PGPASSWORD` only.
    pub fn password(&self) -> Option<String> {
        self.config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    }

    /// Connects. Every error message is redacted and says what to check.
    pub fn connect(&self) -> Result<Client, PgError> {
        let result = match self.sslmode {
            SslMode::Disable => self.config.connect(NoTls),
            _ => {
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.tls_config()?);
                self.config.connect(tls)
            }
        };
        result.map_err(|e| PgError::Connect {
            target: self.display(),
            message: describe_connect_error(&e, self),
        })
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, PgError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| PgError::Tls(e.to_string()))?;
        let config = match self.sslmode {
            // libpq: prefer/require (without a root certificate) encrypt but do not verify.
            SslMode::Allow | SslMode::Prefer | SslMode::Require if self.sslrootcert.is_none() => {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(tls::AcceptAnyCert(provider)))
                    .with_no_client_auth()
            }
            SslMode::VerifyCa | SslMode::Require | SslMode::Allow | SslMode::Prefer => {
                let roots = Arc::new(self.root_store()?);
                let inner =
                    rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                        .build()
                        .map_err(|e| PgError::Tls(e.to_string()))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(tls::VerifyChainOnly(inner)))
                    .with_no_client_auth()
            }
            SslMode::VerifyFull => builder
                .with_root_certificates(self.root_store()?)
                .with_no_client_auth(),
            SslMode::Disable => unreachable!("no TLS config for sslmode=disable"),
        };
        Ok(config)
    }

    /// `sslrootcert` (a PEM file, or `system` for the bundled web roots), else
    /// `~/.postgresql/root.crt` as libpq, else the bundled web roots.
    fn root_store(&self) -> Result<rustls::RootCertStore, PgError> {
        let mut store = rustls::RootCertStore::empty();
        let default = home_dir()
            .map(|h| h.join(".postgresql/root.crt"))
            .filter(|p| p.is_file());
        let path = match &self.sslrootcert {
            Some(p) if p.as_os_str() == "system" => None,
            Some(p) => Some(p.clone()),
            None => default,
        };
        match path {
            Some(path) => {
                let pem = std::fs::read(&path).map_err(|e| {
                    PgError::Tls(format!("cannot read sslrootcert {}: {e}", path.display()))
                })?;
                let mut added = 0;
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert =
                        cert.map_err(|e| PgError::Tls(format!("{}: {e}", path.display())))?;
                    store
                        .add(cert)
                        .map_err(|e| PgError::Tls(format!("{}: {e}", path.display())))?;
                    added += 1;
                }
                if added == 0 {
                    return Err(PgError::Tls(format!(
                        "{} holds no PEM certificate",
                        path.display()
                    )));
                }
            }
            None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        Ok(store)
    }
}

fn describe_connect_error(e: &postgres::Error, target: &Target) -> String {
    // The driver's message and its source chain, for errors like
    // "error performing TLS handshake: server does not support TLS".
    let mut detail = redact(&e.to_string());
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = redact(&c.to_string());
        if !detail.contains(&text) {
            detail.push_str(": ");
            detail.push_str(&text);
        }
        cause = c.source();
    }
    let code = e.as_db_error().map(|d| d.code().code().to_string());
    let hint = match code.as_deref() {
        Some("28P01") | Some("28000") => "check the user and password (URL, PGPASSWORD or ~/.pgpass)",
        Some("3D000") => "the database does not exist: check the database name",
        // Before the general TLS hint, which would match this message too.
        _ if detail.contains("server does not support TLS") => {
            "the server does not offer TLS; use sslmode=prefer or disable only on a trusted network"
        }
        _ if detail.contains("tls") || detail.contains("TLS") || detail.contains("certificate") => {
            "check sslmode and sslrootcert (Supabase requires TLS; its CA certificate is in the dashboard)"
        }
        _ if target.sslmode == SslMode::Disable && detail.contains("SSL") => {
            "the server requires TLS: use sslmode=require or verify-full"
        }
        _ => "check that the server is running and reachable, and the host and port",
    };
    format!("{detail}\n  hint: {hint}")
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

struct TlsParams {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// tokio-postgres knows only disable/prefer/require and no `sslrootcert`: take
/// those two out of the string and handle them here.
/// As libpq: `host` and `port` in a URL's query replace those of its authority
/// (`postgresql://u@localhost/db?host=/run/pg` is the socket, not localhost). The
/// driver would keep both, as two hosts (or ports) to try, the authority's first:
/// possibly another server.
fn query_overrides_authority(base: &str, query: &mut Vec<String>) -> String {
    let value = |name: &str| {
        query.iter().find_map(|p| match p.split_once('=') {
            Some((k, v)) if k == name => Some(v.to_string()),
            _ => None,
        })
    };
    let (host, port) = (value("host"), value("port"));
    if host.is_none() && port.is_none() {
        return base.to_string();
    }
    let Some((scheme, rest)) = base.split_once("://") else {
        return base.to_string();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, hostspec) = match authority.rfind('@') {
        Some(i) => (&authority[..=i], &authority[i + 1..]),
        None => ("", authority),
    };
    let (bare, authority_port) = match hostspec.rfind(':') {
        Some(i) if !hostspec[i..].contains(']') && !hostspec.contains(',') => {
            (&hostspec[..i], Some(&hostspec[i + 1..]))
        }
        _ => (hostspec, None),
    };
    if host.is_some() || hostspec.is_empty() || hostspec.contains(',') {
        // The query's hosts alone; the authority's port stays unless the query has one.
        if let (None, Some(p)) = (&port, authority_port) {
            query.push(format!("port={p}"));
        }
        return format!("{scheme}://{userinfo}{path}");
    }
    // One authority host and a query port: the port moves into the authority.
    query.retain(|p| p.split_once('=').map_or(p.as_str(), |(k, _)| k) != "port");
    format!(
        "{scheme}://{userinfo}{bare}:{}{path}",
        port.unwrap_or_default()
    )
}

/// A URL whose password holds an unescaped `@` (`postgresql://u:p@ss@host/db`)
/// would be split at the wrong `@`, as libpq splits it too: part of the password
/// would become the host and show up in messages. Refuse it, showing nothing of
/// what comes before the last `@`, with the fix.
fn refuse_unescaped_at(raw: &str) -> Result<(), PgError> {
    let Some(rest) = raw
        .strip_prefix("postgresql://")
        .or_else(|| raw.strip_prefix("postgres://"))
    else {
        return Ok(());
    };
    let before_query = rest.split(['?', '#']).next().unwrap_or(rest);
    if before_query.matches('@').count() < 2 {
        return Ok(());
    }
    let (credentials, tail) = before_query.rsplit_once('@').unwrap_or(("", before_query));
    // Whatever the split, every piece of the credentials is secret from now on.
    if let Some((_, password)) = credentials.split_once(':') {
        register_secret(password);
    }
    let scheme = if raw.starts_with("postgresql://") {
        "postgresql"
    } else {
        "postgres"
    };
    Err(PgError::BadTarget(format!(
        "the connection URL {scheme}://***@{tail} has more than one `@` before the host: a password (or user \
         name) holding `@` must be percent-encoded\n  hint: write `@` in the password as %40 (and `:` as %3A, `/` as \
         %2F, `?` as %3F, `#` as %23, `%` as %25), or pass the password in PGPASSWORD or ~/.pgpass"
    )))
}

fn take_tls_params(raw: &str) -> Result<(String, TlsParams), PgError> {
    let mut params = TlsParams {
        sslmode: None,
        sslrootcert: None,
    };
    let is_url = raw.starts_with("postgres://") || raw.starts_with("postgresql://");
    if is_url {
        let Some((base, query)) = raw.split_once('?') else {
            return Ok((raw.to_string(), params));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => params.sslmode = Some(percent_decode(value)),
                "sslrootcert" => params.sslrootcert = Some(percent_decode(value)),
                "sslcert" | "sslkey" | "sslpassword" => {
                    return Err(PgError::BadTarget(format!(
                        "`{key}` (client certificates) is not supported by safemig yet; connect with a password"
                    )))
                }
                _ => kept.push(pair.to_string()),
            }
        }
        let base = query_overrides_authority(base, &mut kept);
        let rebuilt = if kept.is_empty() {
            base
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok((rebuilt, params))
    } else {
        let mut kept = Vec::new();
        for (key, value) in key_values(raw) {
            match key.as_str() {
                "sslmode" => params.sslmode = Some(value),
                "sslrootcert" => params.sslrootcert = Some(value),
                _ => kept.push(format!(
                    "{key}='{}'",
                    value.replace('\\', "\\\\").replace('\'', "\\'")
                )),
            }
        }
        Ok((kept.join(" "), params))
    }
}

/// libpq key=value pairs: values may be single-quoted with backslash escapes.
fn key_values(raw: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = raw.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() == Some(&'=') {
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key, value));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The password for `config` from `PGPASSFILE` or `~/.pgpass`, as libpq looks it up:
/// `host:port:database:user:password`, `*` matches anything, `\` escapes `:` and `\`.
/// Like libpq, a file readable by group or others is ignored.
fn pgpass_lookup(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = env("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| home_dir().map(|h| h.join(".pgpass")))?;
    let meta = std::fs::metadata(&path).ok()?;
    if meta.permissions().mode() & 0o077 != 0 {
        eprintln!(
            "warning: password file {} has group or world access; it is ignored (chmod 0600 it)",
            path.display()
        );
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        Host::Unix(p) => p.display().to_string(),
    };
    let is_socket = host.starts_with('/');
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config.get_dbname().unwrap_or("").to_string();
    let user = config.get_user().unwrap_or("").to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass_line(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |field: &str, value: &str| field == "*" || field == value;
        let host_ok = matches(&fields[0], &host) || (is_socket && fields[0] == "localhost");
        if host_ok
            && matches(&fields[1], &port)
            && matches(&fields[2], &db)
            && matches(&fields[3], &user)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

fn split_pgpass_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().unwrap().push(next);
                }
            }
            // The password is the rest of the line, colons included.
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

mod tls {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
    use std::sync::Arc;

    /// sslmode=prefer/require as libpq does them: encrypted, not authenticated.
    #[derive(Debug)]
    pub struct AcceptAnyCert(pub Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for AcceptAnyCert {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// sslmode=verify-ca: the chain must lead to a trusted root; the host name is not checked.
    #[derive(Debug)]
    pub struct VerifyChainOnly(pub Arc<rustls::client::WebPkiServerVerifier>);

    impl ServerCertVerifier for VerifyChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            match self
                .0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Err(Error::InvalidCertificate(CertificateError::NotValidForName))
                | Err(Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                    ..
                })) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn host_and_port_in_the_query_replace_the_authority_as_in_libpq() {
        let t = Target::resolve_with(
            Some("postgresql://app:pw@localhost/live?host=/tmp/rv&port=55432"),
            &env_of(&[]),
        )
        .unwrap();
        assert_eq!(
            t.display(),
            "postgresql://app@/live?host=/tmp/rv&port=55432"
        );
        assert_eq!(t.config.get_hosts().len(), 1);
        let t = Target::resolve_with(
            Some("postgresql://app@db.example.com:5432/live?port=6543"),
            &env_of(&[]),
        )
        .unwrap();
        assert_eq!((t.host(), t.port()), ("db.example.com".to_string(), 6543));
        let t = Target::resolve_with(
            Some("postgresql://app@[::1]:5432/live?port=6543"),
            &env_of(&[]),
        )
        .unwrap();
        assert_eq!(t.port(), 6543);
        assert_eq!(t.config.get_ports(), [6543]);
    }

    #[test]
    fn an_authority_port_stays_when_the_query_names_only_the_host() {
        let t = Target::resolve_with(
            Some("postgresql://app@localhost:6000/live?host=/tmp/rv"),
            &env_of(&[]),
        )
        .unwrap();
        assert_eq!(t.display(), "postgresql://app@/live?host=/tmp/rv&port=6000");
    }

    #[test]
    fn supabase_transaction_pooler_is_recognised() {
        let pooled = |url: &str| {
            Target::resolve_with(Some(url), &env_of(&[]))
                .unwrap()
                .is_transaction_pooler()
        };
        assert!(pooled(
            "postgresql://postgres.abc:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"
        ));
        assert!(!pooled(
            "postgresql://postgres.abc:pw@aws-0-eu-central-1.pooler.supabase.com:5432/postgres"
        ));
        assert!(!pooled(
            "postgresql://postgres:pw@db.abc.supabase.co:6543/postgres"
        ));
    }

    #[test]
    fn url_wins_and_display_has_no_password() {
        let t = Target::resolve_with(
            Some("postgresql://app:pw-in-url@db.example.com:6543/prod?sslmode=verify-full"),
            &env_of(&[("PGUSER", "other")]),
        )
        .unwrap();
        assert_eq!(t.user(), "app");
        assert_eq!(t.sslmode, SslMode::VerifyFull);
        assert_eq!(
            t.display(),
            "postgresql://app@db.example.com:6543/prod?sslmode=verify-full"
        );
        assert!(!format!("{t:?}").contains("pw-in-url"));
    }

    #[test]
    fn pg_variables_fill_what_the_url_leaves_open() {
        let t = Target::resolve_with(
            None,
            &env_of(&[
                ("PGHOST", "h1"),
                ("PGPORT", "7777"),
                ("PGUSER", "u"),
                ("PGDATABASE", "d"),
                ("PGSSLMODE", "require"),
            ]),
        )
        .unwrap();
        assert_eq!(t.display(), "postgresql://u@h1:7777/d?sslmode=require");
    }

    #[test]
    fn bad_sslmode_and_port_are_clear_errors() {
        let err = Target::resolve_with(Some("postgresql://a@b/c?sslmode=maybe"), &env_of(&[]))
            .unwrap_err();
        assert!(err.to_string().contains("maybe"));
        let err = Target::resolve_with(None, &env_of(&[("PGPORT", "x")])).unwrap_err();
        assert!(err.to_string().contains("PGPORT"));
    }

    #[test]
    fn key_value_strings_with_tls_params() {
        let t = Target::resolve_with(
            Some("host=localhost port=5433 user=me dbname='my db' sslmode=verify-ca sslrootcert=/x/ca.pem"),
            &env_of(&[]),
        )
        .unwrap();
        assert_eq!(t.dbname(), "my db");
        assert_eq!(t.sslmode, SslMode::VerifyCa);
        assert_eq!(t.sslrootcert.as_deref(), Some(Path::new("/x/ca.pem")));
    }

    #[test]
    fn pgpass_is_read_with_wildcards_escapes_and_mode_check() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(
            &path,
            "# comment\nother:*:*:*:nope\nh1:*:d:u:se\\:cret:with:colons\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let p = path.to_str().unwrap();
        let env = env_of(&[
            ("PGHOST", "h1"),
            ("PGUSER", "u"),
            ("PGDATABASE", "d"),
            ("PGPASSFILE", p),
        ]);
        let t = Target::resolve_with(None, &env).unwrap();
        assert_eq!(t.password().as_deref(), Some("se:cret:with:colons"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let t = Target::resolve_with(None, &env).unwrap();
        assert_eq!(t.password(), None);
    }
}
