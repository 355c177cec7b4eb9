//! `sensitive-columns-exposed` (splinter `0023_sensitive_columns_exposed`, ERROR, security)
//!
//! **What it finds**: a table in an exposed schema, without row level security,
//! that `anon` or `authenticated` may select, with a column whose name says it
//! holds a secret or personal data (`password`, `api_key`, `ssn`, `card_number`, ...).
//!
//! **Why it matters**: those values are then readable by every holder of the
//! public key; a leak of them is the kind that has to be reported.
//!
//! **Fix**: `ALTER TABLE public.accounts ENABLE ROW LEVEL SECURITY;` with policies,
//! or the column moved to a table the API cannot read.

use super::{
    rows, Category, Hit, Level, Lint, Scope, API_CAN_SELECT, API_SELECTORS, NOT_EXTENSION_RELATION,
    USER_SCHEMA,
};

pub(super) const LINT: Lint = Lint {
    name: "sensitive-columns-exposed",
    splinter: "0023_sensitive_columns_exposed",
    level: Level::Error,
    category: Category::Security,
    find,
};

/// Column names (lower case, `-` read as `_`) that hold secrets or personal data.
const SENSITIVE: &[&str] = &[
    // credentials
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "password_hash",
    "secret",
    "secret_key",
    "client_secret",
    "private_key",
    "api_key",
    "apikey",
    "auth_key",
    "token",
    "jwt",
    "access_token",
    "refresh_token",
    "oauth_token",
    "session_token",
    "bearer_token",
    "auth_code",
    "session_id",
    "session_key",
    "session_secret",
    "recovery_code",
    "backup_code",
    "verification_code",
    "otp",
    "otp_secret",
    "totp_secret",
    "two_factor",
    "2fa_secret",
    "2fa_code",
    "pgp_key",
    "gpg_key",
    "ssh_key",
    "license_key",
    "activation_key",
    // identity documents
    "ssn",
    "social_security",
    "social_security_number",
    "driver_license",
    "drivers_license",
    "license_number",
    "passport_number",
    "passport_id",
    "national_id",
    "tax_id",
    // money
    "credit_card",
    "card_number",
    "cvv",
    "cvc",
    "cvn",
    "bank_account",
    "account_number",
    "routing_number",
    "iban",
    "swift_code",
    "bic",
    // health
    "health_record",
    "medical_record",
    "patient_id",
    "insurance_number",
    "diagnosis",
    // devices and biometrics
    "mac_address",
    "imei",
    "device_uuid",
    "fingerprint",
    "facial_recognition",
];

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    if scope.api_roles.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), {API_SELECTORS}, \
                pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND NOT c.relrowsecurity \
           AND n.nspname = ANY($3::text[]) AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} AND {API_CAN_SELECT} \
           AND pg_catalog.replace(pg_catalog.lower(a.attname), '-', '_') = ANY($4::text[]) \
         GROUP BY c.oid, n.nspname, c.relname ORDER BY 1"
    );
    let sensitive: Vec<&str> = SENSITIVE.to_vec();
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped, &scope.api_roles, &scope.exposed, &sensitive])?
        .iter()
        .map(|r| {
            let (table, roles, columns): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            Hit {
                object: table.clone(),
                message: format!(
                    "table {table} has columns that hold secrets or personal data ({columns}), row level security \
                     off, and {roles} may select it: every value is readable through the API"
                ),
                fix: format!(
                    "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
                     -- then the policies the app needs; or move {columns} to a table the API cannot read"
                ),
            }
        })
        .collect())
}
