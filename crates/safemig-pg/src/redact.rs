//! Keeping passwords out of everything safemig prints or writes.
//!
//! Every password safemig learns (from a URL, `PGPASSWORD` or `.pgpass`) is
//! registered here, and every message that leaves the process — errors, human and
//! JSON output, audit rows, log lines — goes through [`redact`]. Connection
//! strings are additionally stripped of their `user:password@` and
//! `password=...` parts even when the password was never registered.

use std::sync::{Mutex, OnceLock};

fn secrets() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers a secret so that [`redact`] removes it from any text.
pub fn register_secret(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let mut list = secrets().lock().unwrap_or_else(|e| e.into_inner());
    if !list.iter().any(|s| s == secret) {
        list.push(secret.to_string());
        // Longest first, so that a secret containing another is removed whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

pub const MASK: &str = "********";

/// `text` with every registered secret and every URL or key-value password masked.
pub fn redact(text: &str) -> String {
    let mut out = mask_connection_strings(text);
    let list = secrets().lock().unwrap_or_else(|e| e.into_inner());
    for secret in list.iter() {
        // Also the percent-encoded form a URL would carry.
        for form in [secret.clone(), percent_encode(secret)] {
            if !form.is_empty() && out.contains(&form) {
                out = out.replace(&form, MASK);
            }
        }
    }
    out
}

/// `scheme://user:secret@host` -> `scheme://user:********@host`, and
/// `password=secret` -> `password=********`.
fn mask_connection_strings(text: &str) -> String {
    // Passwords seen in a URL are masked wherever else they appear too (a URL pasted
    // twice, or one that does not parse, can carry them outside an authority).
    let mut found: Vec<String> = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(idx) = rest.find("://") {
        let (head, tail) = rest.split_at(idx + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or white space.
        let end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon + 1]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
                found.push(authority[colon + 1..at].to_string());
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    found.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for password in found.iter().filter(|p| p.chars().count() >= 4) {
        out = out.replace(password.as_str(), MASK);
    }
    mask_password_params(&out)
}

fn mask_password_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(idx) = find_ci(rest, "password=") {
        let (head, tail) = rest.split_at(idx + "password=".len());
        out.push_str(head);
        let end = if tail.starts_with('\'') {
            // A quoted libpq value: up to the closing unescaped quote.
            let mut i = 1;
            let bytes = tail.as_bytes();
            while i < bytes.len() {
                if bytes[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if bytes[i] == b'\'' {
                    i += 1;
                    break;
                }
                i += 1;
            }
            i.min(tail.len())
        } else {
            tail.find(|c: char| c == '&' || c.is_whitespace() || c == '"')
                .unwrap_or(tail.len())
        };
        out.push_str(MASK);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_url_passwords_even_unregistered() {
        assert_eq!(
            redact("failed: postgres://app:s3cr%40t@db.example.com:5432/x?sslmode=require"),
            "failed: postgres://app:********@db.example.com:5432/x?sslmode=require"
        );
        assert_eq!(redact("postgres://app@host/db"), "postgres://app@host/db");
    }

    #[test]
    fn masks_key_value_passwords() {
        assert_eq!(
            redact("host=a password=hunter2 user=b"),
            "host=a password=******** user=b"
        );
        assert_eq!(
            redact("host=a password='it\\'s x' user=b"),
            "host=a password=******** user=b"
        );
    }

    #[test]
    fn masks_registered_secrets_anywhere() {
        register_secret("correct horse battery");
        let text = redact("error near 'correct horse battery' and correct%20horse%20battery");
        assert!(!text.contains("correct horse"), "{text}");
        assert!(!text.contains("correct%20horse"), "{text}");
    }
}
