//! `safemig doctor`'s database lints (Supabase's splinter, lint for lint) against
//! a real throwaway PostgreSQL with the Supabase stand-in: a database holding one
//! instance of each lint gets exactly those findings, and a clean one none.
//!
//! pg_graphql (lints 0026 and 0027) is not among the extensions this machine's
//! PostgreSQL builds ship, so those two lints are not applicable here: a
//! database without pg_graphql has no GraphQL schema to show anything in.

mod common;

use common::{Project, Run};

/// One instance of each lint. Tables that only carry a lint live in schema `app`,
/// which the API does not expose, so that they carry nothing else.
const EVERY_LINT: &str = r#"
CREATE SCHEMA app;

-- 0001: a foreign key no index starts with.
CREATE TABLE app.parents (id int PRIMARY KEY);
CREATE TABLE app.children (id int PRIMARY KEY, parent_id int REFERENCES app.parents (id));

-- 0002 and 0010: a view of auth.users in public, with its owner's rights.
CREATE VIEW public.user_emails AS SELECT id, email FROM auth.users;

-- 0003: auth.uid() called for every row.
CREATE TABLE app.notes (id int PRIMARY KEY, owner uuid);
ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON app.notes FOR SELECT TO authenticated USING (owner = auth.uid());

-- 0004 and 0005: no primary key; an index nothing used.
CREATE TABLE app.events (at timestamptz);
CREATE INDEX events_at_idx ON app.events (at);

-- 0006: two permissive policies for the same role and command.
CREATE TABLE app.posts (id int PRIMARY KEY, owner uuid, published boolean);
ALTER TABLE app.posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_posts ON app.posts FOR SELECT TO authenticated USING (owner = (select auth.uid()));
CREATE POLICY published_posts ON app.posts FOR SELECT TO authenticated USING (published);

-- 0007: a policy, row level security off.
CREATE TABLE app.drafts (id int PRIMARY KEY, owner uuid);
CREATE POLICY own_drafts ON app.drafts FOR SELECT TO authenticated USING (owner = (select auth.uid()));

-- 0008: row level security on, no policy.
CREATE TABLE app.vault_items (id int PRIMARY KEY);
ALTER TABLE app.vault_items ENABLE ROW LEVEL SECURITY;

-- 0009: the same index twice (unique, so neither is an unused index).
CREATE TABLE app.tags (id int PRIMARY KEY, name text);
CREATE UNIQUE INDEX tags_name_a ON app.tags (name);
CREATE UNIQUE INDEX tags_name_b ON app.tags (name);

-- 0011: no search_path of its own.
CREATE FUNCTION app.slugify(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(t) $$;

-- 0014: an extension in public.
CREATE EXTENSION citext SCHEMA public;

-- 0015: a policy trusting user_metadata (wrapped, so not 0003 too).
CREATE TABLE app.admin_things (id int PRIMARY KEY);
ALTER TABLE app.admin_things ENABLE ROW LEVEL SECURITY;
CREATE POLICY admins_only ON app.admin_things FOR SELECT TO authenticated
    USING (((select auth.jwt()) -> 'user_metadata' ->> 'role') = 'admin');

-- 0016: a materialized view the API roles may select (Supabase's default grants).
CREATE MATERIALIZED VIEW public.stats AS SELECT 1 AS n;

-- 0017: a foreign table in public.
CREATE EXTENSION file_fdw SCHEMA extensions;
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE public.remote_rows (line text) SERVER files OPTIONS (filename '/dev/null');

-- 0018: a reg* column.
CREATE TABLE app.handlers (id int PRIMARY KEY, fn regproc);

-- 0019: a queue without row level security, pgmq_public exposed through PostgREST's setting.
ALTER ROLE authenticator SET pgrst.db_schemas = 'public, pgmq_public';
CREATE SCHEMA pgmq;
CREATE TABLE pgmq.q_jobs (msg_id bigint PRIMARY KEY, message jsonb);
GRANT USAGE ON SCHEMA pgmq TO anon;
GRANT SELECT ON pgmq.q_jobs TO anon;

-- 0020: 99.5% of the rows deleted, spread over every page.
CREATE TABLE app.big (id int PRIMARY KEY, pad text);
INSERT INTO app.big SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g;
DELETE FROM app.big WHERE id % 200 <> 0;
ANALYZE app.big;

-- 0021: a foreign key to a unique constraint of auth.users that is not its key.
CREATE TABLE app.contacts (id int PRIMARY KEY, phone text UNIQUE REFERENCES auth.users (phone));

-- 0022: an extension older than the server's.
CREATE EXTENSION pg_trgm VERSION '1.5' SCHEMA extensions;

-- 0023 (and doctor's table-without-rls): a password column the API can read.
CREATE TABLE public.accounts (id int PRIMARY KEY, login text, password text);

-- 0024: anyone signed in deletes any row.
CREATE TABLE app.comments (id int PRIMARY KEY);
ALTER TABLE app.comments ENABLE ROW LEVEL SECURITY;
CREATE POLICY anyone_deletes ON app.comments FOR DELETE TO authenticated USING (true);

-- 0025: a public bucket whose objects anyone can list.
INSERT INTO storage.buckets (id, name, public) VALUES ('avatars', 'avatars', true), ('private', 'private', false);
CREATE POLICY public_read ON storage.objects FOR SELECT TO anon USING (bucket_id = 'avatars');
CREATE POLICY own_files ON storage.objects FOR SELECT TO authenticated USING (owner = (select auth.uid()));

-- 0028 and 0029: a security definer function in public, executable by the API roles.
CREATE FUNCTION public.admin_reset() RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$ SELECT $$;
"#;

/// The same kinds of objects, made the way the lints ask.
const CLEAN: &str = r#"
CREATE SCHEMA app;
CREATE TABLE app.parents (id int PRIMARY KEY);
-- The key's columns lead the primary key: the foreign key is indexed.
CREATE TABLE app.children (parent_id int REFERENCES app.parents (id), id int, PRIMARY KEY (parent_id, id));
CREATE VIEW public.own_profile WITH (security_invoker = on) AS SELECT id FROM app.parents;
CREATE TABLE public.notes (id int PRIMARY KEY, owner uuid, published boolean);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_notes ON public.notes FOR SELECT TO authenticated USING (owner = (select auth.uid()) OR published);
CREATE POLICY delete_own ON public.notes FOR DELETE TO authenticated USING (owner = (select auth.uid()));
CREATE FUNCTION app.slugify(t text) RETURNS text LANGUAGE sql IMMUTABLE SET search_path = '' AS $$ SELECT pg_catalog.lower(t) $$;
CREATE EXTENSION citext SCHEMA extensions;
CREATE EXTENSION pg_trgm SCHEMA extensions;
CREATE TABLE app.contacts (id int PRIMARY KEY, user_id uuid UNIQUE REFERENCES auth.users (id));
CREATE FUNCTION app.admin_reset() RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$ SELECT $$;
"#;

/// Every finding of a `doctor --format json` run: (check, object).
fn all_findings(run: &Run) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = run.json()["findings"]
        .as_array()
        .expect("a findings array")
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["object"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn one_instance_of_each_lint_gets_exactly_those_findings() {
    let p = Project::new();
    p.exec(EVERY_LINT);
    let before = p.fingerprint();
    let run = p.safemig(&["doctor", "--no-insert-test", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let mut expected: Vec<(String, String)> = [
        ("unindexed-foreign-keys", "app.children (parent_id)"),
        ("auth-users-exposed", "public.user_emails"),
        ("auth-rls-initplan", "policy own_notes on app.notes"),
        ("no-primary-key", "app.events"),
        ("unused-index", "app.events_at_idx"),
        (
            "multiple-permissive-policies",
            "app.posts (authenticated, SELECT)",
        ),
        ("policy-exists-rls-disabled", "app.drafts"),
        ("rls-enabled-no-policy", "app.vault_items"),
        ("duplicate-index", "app.tags_name_a, app.tags_name_b"),
        ("security-definer-view", "public.user_emails"),
        ("function-search-path-mutable", "app.slugify(t text)"),
        ("table-without-rls", "public.accounts"),
        ("extension-in-public", "extension citext"),
        (
            "rls-references-user-metadata",
            "policy admins_only on app.admin_things",
        ),
        ("materialized-view-in-api", "public.stats"),
        ("foreign-table-in-api", "public.remote_rows"),
        ("unsupported-reg-types", "app.handlers.fn"),
        ("insecure-queue-exposed-in-api", "pgmq.q_jobs"),
        ("table-bloat", "app.big"),
        (
            "fkey-to-auth-unique",
            "foreign key contacts_phone_fkey on app.contacts",
        ),
        ("extension-versions-outdated", "extension pg_trgm"),
        ("sensitive-columns-exposed", "public.accounts"),
        (
            "rls-policy-always-true",
            "policy anyone_deletes on app.comments",
        ),
        ("public-bucket-allows-listing", "bucket avatars"),
        (
            "anon-security-definer-function-executable",
            "public.admin_reset()",
        ),
        (
            "authenticated-security-definer-function-executable",
            "public.admin_reset()",
        ),
    ]
    .iter()
    .map(|(c, o)| (c.to_string(), o.to_string()))
    .collect();
    expected.sort();
    assert_eq!(all_findings(&run), expected, "{run:?}");

    // Each with splinter's id, level and category, and a fix.
    let json = run.json();
    for f in json["findings"].as_array().unwrap() {
        let splinter = f["splinter"]
            .as_str()
            .unwrap_or_else(|| panic!("a splinter id: {f}"));
        assert!(
            splinter.ends_with(&f["check"].as_str().unwrap().replace('-', "_"))
                || f["check"] == "table-without-rls",
            "{f}"
        );
        let expected_severity = match f["level"].as_str().unwrap() {
            "ERROR" => "risky",
            "WARN" => "review",
            "INFO" => "hint",
            other => panic!("level {other}"),
        };
        assert_eq!(f["severity"], expected_severity, "{f}");
        assert!(
            ["security", "performance"].contains(&f["category"].as_str().unwrap()),
            "{f}"
        );
        assert!(!f["fix"].as_str().unwrap().is_empty(), "{f}");
    }
    assert_eq!(p.fingerprint(), before, "doctor changed the database");

    // Applying the fixes that are plain SQL makes their findings go away.
    let fixes = [
        ("unindexed-foreign-keys", "app.children (parent_id)"),
        ("auth-rls-initplan", "policy own_notes on app.notes"),
        ("policy-exists-rls-disabled", "app.drafts"),
        ("security-definer-view", "public.user_emails"),
        ("function-search-path-mutable", "app.slugify(t text)"),
        ("extension-in-public", "extension citext"),
        ("unsupported-reg-types", "app.handlers.fn"),
        ("extension-versions-outdated", "extension pg_trgm"),
        ("public-bucket-allows-listing", "bucket avatars"),
        ("materialized-view-in-api", "public.stats"),
    ];
    for (check, object) in fixes {
        let fix = json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == check && f["object"] == object)
            .unwrap()["fix"]
            .as_str()
            .unwrap()
            .to_string();
        // CONCURRENTLY cannot run in the test's transaction block; the index is the same.
        p.exec(&fix.replace("CREATE INDEX CONCURRENTLY", "CREATE INDEX"));
    }
    let after = p.safemig(&["doctor", "--no-insert-test", "--format", "json"]);
    let left = all_findings(&after);
    for (check, object) in fixes {
        assert!(
            !left.iter().any(|(c, o)| c == check && o == object),
            "{check} on {object} is still there after its fix: {after:?}"
        );
    }
}

#[test]
fn a_clean_database_gets_no_findings_and_hints_alone_do_not_fail() {
    let p = Project::new();
    p.exec(CLEAN);
    let run = p.safemig(&["doctor", "--no-insert-test", "--format", "json"]);
    assert_eq!(
        all_findings(&run),
        Vec::<(String, String)>::new(),
        "{run:?}"
    );
    assert_eq!(run.code, 0, "{run:?}");

    // A hint (a table without a primary key) is reported and does not fail doctor.
    p.exec("CREATE TABLE app.log (at timestamptz)");
    let run = p.safemig(&["doctor", "--no-insert-test", "--format", "json"]);
    assert_eq!(
        all_findings(&run),
        vec![("no-primary-key".to_string(), "app.log".to_string())],
        "{run:?}"
    );
    assert_eq!(run.code, 0, "{run:?}");
    let human = p.safemig(&["doctor", "--no-insert-test"]);
    assert!(human.stdout.contains("hint[no-primary-key]"), "{human:?}");
    assert!(
        human.stdout.contains("(0 risky, 0 review, 1 hint)"),
        "{human:?}"
    );
}
