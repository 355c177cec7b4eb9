-- The Supabase platform stand-in: what a new Supabase project's database holds
-- before its first migration, for throwaway databases only (replays from empty,
-- rehearsals, restores proven by safemig). Never applied to a real project.
-- Idempotent: it may be loaded into several databases of one cluster.
--
-- Written for safemig from the sources of truth named in README.md beside this
-- file (Supabase's auth server, storage API and realtime migrations, and the
-- supabase/postgres image's init scripts and migrations), as of 2026-08.
-- Differences from the real platform, on purpose:
--   * replays run as a superuser; on Supabase, migrations run as `postgres`,
--     which is not one (a permission error there can pass here);
--   * no event triggers, no supautils/safeupdate, no pgbouncer schema;
--   * extensions this PostgreSQL lacks are safemig stand-ins (see extensions/).

-- Roles --------------------------------------------------------------------
-- Roles belong to the whole cluster: created only when missing, never altered.
DO $roles$
DECLARE
    spec text[];
BEGIN
    FOREACH spec SLICE 1 IN ARRAY ARRAY[
        ['anon', 'NOLOGIN INHERIT'],
        ['authenticated', 'NOLOGIN INHERIT'],
        ['service_role', 'NOLOGIN INHERIT BYPASSRLS'],
        ['authenticator', 'LOGIN NOINHERIT'],
        ['supabase_admin', 'LOGIN SUPERUSER CREATEROLE CREATEDB REPLICATION BYPASSRLS'],
        ['supabase_auth_admin', 'LOGIN NOINHERIT'],
        ['supabase_storage_admin', 'LOGIN NOINHERIT CREATEROLE'],
        ['supabase_realtime_admin', 'NOLOGIN NOINHERIT'],
        ['supabase_functions_admin', 'LOGIN NOINHERIT CREATEROLE'],
        ['supabase_replication_admin', 'LOGIN REPLICATION'],
        ['supabase_read_only_user', 'LOGIN BYPASSRLS'],
        ['dashboard_user', 'NOLOGIN CREATEROLE CREATEDB REPLICATION'],
        ['pgbouncer', 'LOGIN']
    ] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = spec[1]) THEN
            EXECUTE format('CREATE ROLE %I %s', spec[1], spec[2]);
        END IF;
    END LOOP;
END
$roles$;

GRANT anon, authenticated, service_role TO authenticator;
GRANT anon, authenticated, service_role TO supabase_realtime_admin;
GRANT authenticator TO supabase_storage_admin;
GRANT pg_read_all_data TO supabase_read_only_user;
-- On Supabase, `postgres` may act as the API roles.
GRANT anon, authenticated, service_role TO postgres;

-- The roles' search_path in this database, as on Supabase: `extensions` is on
-- it, so a bare uuid_generate_v4() or gen_salt() resolves.
DO $paths$
BEGIN
    EXECUTE format('ALTER ROLE postgres IN DATABASE %I SET search_path = "$user", public, extensions',
                   current_database());
    EXECUTE format('ALTER ROLE supabase_admin IN DATABASE %I SET search_path = "$user", public, auth, extensions',
                   current_database());
    EXECUTE format('ALTER ROLE supabase_auth_admin IN DATABASE %I SET search_path = auth', current_database());
    EXECUTE format('ALTER ROLE supabase_storage_admin IN DATABASE %I SET search_path = storage', current_database());
    EXECUTE format('ALTER ROLE anon IN DATABASE %I SET statement_timeout = ''3s''', current_database());
    EXECUTE format('ALTER ROLE authenticated IN DATABASE %I SET statement_timeout = ''8s''', current_database());
    EXECUTE format('GRANT CREATE ON DATABASE %I TO supabase_auth_admin, supabase_realtime_admin', current_database());
END
$paths$;
SELECT pg_catalog.set_config('search_path', '"$user", public, extensions', false);

-- Schemas ------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS extensions AUTHORIZATION postgres;
CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS storage AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS realtime AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS graphql_public AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS supabase_functions AUTHORIZATION supabase_admin;

GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role, supabase_realtime_admin;
GRANT ALL ON SCHEMA extensions TO postgres, dashboard_user;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role, postgres, supabase_realtime_admin;
GRANT ALL ON SCHEMA auth TO supabase_auth_admin, dashboard_user;
GRANT USAGE ON SCHEMA storage TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA storage TO postgres WITH GRANT OPTION;
GRANT ALL ON SCHEMA storage TO supabase_storage_admin, dashboard_user;
GRANT USAGE ON SCHEMA realtime TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA realtime TO postgres WITH GRANT OPTION;
GRANT ALL ON SCHEMA realtime TO supabase_realtime_admin WITH GRANT OPTION;
GRANT USAGE ON SCHEMA graphql_public TO postgres, anon, authenticated, service_role;
GRANT USAGE ON SCHEMA supabase_functions TO postgres, anon, authenticated, service_role;
GRANT ALL ON SCHEMA supabase_functions TO supabase_functions_admin;

-- What the migrations create in public is granted to the API roles by default
-- (row level security then decides), as on Supabase.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
    GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
    GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
    GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA storage GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA storage GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA storage GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA extensions
    GRANT ALL ON TABLES TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA extensions
    GRANT ALL ON FUNCTIONS TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA extensions
    GRANT ALL ON SEQUENCES TO postgres WITH GRANT OPTION;

-- Extensions every new project has ------------------------------------------
DO $preinstalled$
DECLARE
    contrib text;
BEGIN
    -- A server built without one (or missing its library) leaves it out: a
    -- migration that needs it then fails saying so, as this machine's doing.
    FOREACH contrib IN ARRAY ARRAY['uuid-ossp', 'pgcrypto', 'pg_stat_statements'] LOOP
        BEGIN
            EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA extensions', contrib);
        EXCEPTION WHEN undefined_file OR feature_not_supported OR invalid_parameter_value THEN NULL;
        END;
    END LOOP;
    -- Stand-ins where this PostgreSQL lacks them; a server started without
    -- safemig's overlay has none, and the project then needs them itself.
    BEGIN
        CREATE EXTENSION IF NOT EXISTS supabase_vault;
    EXCEPTION WHEN undefined_file OR feature_not_supported OR invalid_parameter_value THEN NULL;
    END;
    -- pg_graphql is off for projects made since 2026-04; a replay of an older
    -- project's history gets it (see `safemig_pg::supabase::load_for_replay`).
    -- pgjwt and pgsodium are preinstalled on PostgreSQL 15 projects, not on 17.
    IF current_setting('server_version_num')::int < 170000 THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pgjwt WITH SCHEMA extensions;
            CREATE EXTENSION IF NOT EXISTS pgsodium;
        EXCEPTION WHEN undefined_file OR feature_not_supported OR invalid_parameter_value THEN NULL;
        END;
    END IF;
END
$preinstalled$;

-- What the API calls; a placeholder (as Supabase keeps one) that answers
-- whether or not pg_graphql is there.
CREATE OR REPLACE FUNCTION graphql_public.graphql("operationName" text DEFAULT NULL, query text DEFAULT NULL,
    variables jsonb DEFAULT NULL, extensions jsonb DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'message', 'pg_graphql extension is not enabled.')));
END
$$;
ALTER FUNCTION graphql_public.graphql(text, text, jsonb, jsonb) OWNER TO supabase_admin;

-- auth: the auth server's schema ---------------------------------------------
SET search_path = auth, pg_catalog;
DO $types$
BEGIN
    IF to_regtype('auth.aal_level') IS NULL THEN
        CREATE TYPE auth.aal_level AS ENUM ('aal1', 'aal2', 'aal3');
        CREATE TYPE auth.code_challenge_method AS ENUM ('s256', 'plain');
        CREATE TYPE auth.factor_status AS ENUM ('unverified', 'verified');
        CREATE TYPE auth.factor_type AS ENUM ('totp', 'webauthn', 'phone');
        CREATE TYPE auth.one_time_token_type AS ENUM ('confirmation_token', 'reauthentication_token',
            'recovery_token', 'email_change_token_new', 'email_change_token_current', 'phone_change_token');
        CREATE TYPE auth.oauth_authorization_status AS ENUM ('pending', 'approved', 'denied', 'expired');
        CREATE TYPE auth.oauth_client_type AS ENUM ('public', 'confidential');
        CREATE TYPE auth.oauth_registration_type AS ENUM ('dynamic', 'manual');
        CREATE TYPE auth.oauth_response_type AS ENUM ('code');
    END IF;
END
$types$;

CREATE TABLE IF NOT EXISTS auth.users (
    instance_id uuid,
    id uuid NOT NULL PRIMARY KEY,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_token varchar(255),
    confirmation_sent_at timestamptz,
    recovery_token varchar(255),
    recovery_sent_at timestamptz,
    email_change_token_new varchar(255),
    email_change varchar(255),
    email_change_sent_at timestamptz,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    created_at timestamptz,
    updated_at timestamptz,
    phone text UNIQUE DEFAULT NULL,
    phone_confirmed_at timestamptz,
    phone_change text DEFAULT '',
    phone_change_token varchar(255) DEFAULT '',
    phone_change_sent_at timestamptz,
    confirmed_at timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
    email_change_token_current varchar(255) DEFAULT '',
    email_change_confirm_status smallint DEFAULT 0
        CONSTRAINT users_email_change_confirm_status_check CHECK (email_change_confirm_status BETWEEN 0 AND 2),
    banned_until timestamptz,
    reauthentication_token varchar(255) DEFAULT '',
    reauthentication_sent_at timestamptz,
    is_sso_user boolean NOT NULL DEFAULT false,
    deleted_at timestamptz,
    is_anonymous boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS users_instance_id_idx ON auth.users (instance_id);
CREATE INDEX IF NOT EXISTS users_instance_id_email_idx ON auth.users (instance_id, lower(email));
CREATE INDEX IF NOT EXISTS users_is_anonymous_idx ON auth.users (is_anonymous);
CREATE UNIQUE INDEX IF NOT EXISTS users_email_partial_key ON auth.users (email) WHERE is_sso_user = false;
CREATE UNIQUE INDEX IF NOT EXISTS confirmation_token_idx ON auth.users (confirmation_token)
    WHERE confirmation_token !~ '^[0-9 ]*$';
CREATE UNIQUE INDEX IF NOT EXISTS recovery_token_idx ON auth.users (recovery_token)
    WHERE recovery_token !~ '^[0-9 ]*$';
CREATE UNIQUE INDEX IF NOT EXISTS email_change_token_current_idx ON auth.users (email_change_token_current)
    WHERE email_change_token_current !~ '^[0-9 ]*$';
CREATE UNIQUE INDEX IF NOT EXISTS email_change_token_new_idx ON auth.users (email_change_token_new)
    WHERE email_change_token_new !~ '^[0-9 ]*$';
CREATE UNIQUE INDEX IF NOT EXISTS reauthentication_token_idx ON auth.users (reauthentication_token)
    WHERE reauthentication_token !~ '^[0-9 ]*$';
COMMENT ON TABLE auth.users IS 'Auth: Stores user login data within a secure schema.';

CREATE TABLE IF NOT EXISTS auth.identities (
    provider_id text NOT NULL,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    identity_data jsonb NOT NULL,
    provider text NOT NULL,
    last_sign_in_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    email text GENERATED ALWAYS AS (lower(identity_data ->> 'email')) STORED,
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider)
);
CREATE INDEX IF NOT EXISTS identities_email_idx ON auth.identities (email text_pattern_ops);
CREATE INDEX IF NOT EXISTS identities_user_id_idx ON auth.identities (user_id);
COMMENT ON TABLE auth.identities IS 'Auth: Stores identities associated to a user.';

CREATE TABLE IF NOT EXISTS auth.oauth_clients (
    id uuid NOT NULL PRIMARY KEY,
    client_secret_hash text,
    registration_type auth.oauth_registration_type NOT NULL,
    redirect_uris text NOT NULL,
    grant_types text NOT NULL,
    client_name text CHECK (char_length(client_name) <= 1024),
    client_uri text CHECK (char_length(client_uri) <= 2048),
    logo_uri text CHECK (char_length(logo_uri) <= 2048),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    client_type auth.oauth_client_type NOT NULL DEFAULT 'confidential',
    token_endpoint_auth_method text NOT NULL
        CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none'))
);
CREATE INDEX IF NOT EXISTS oauth_clients_deleted_at_idx ON auth.oauth_clients (deleted_at);

CREATE TABLE IF NOT EXISTS auth.sessions (
    id uuid NOT NULL PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz,
    updated_at timestamptz,
    factor_id uuid,
    aal auth.aal_level,
    not_after timestamptz,
    refreshed_at timestamp,
    user_agent text,
    ip inet,
    tag text,
    oauth_client_id uuid REFERENCES auth.oauth_clients (id) ON DELETE CASCADE,
    refresh_token_hmac_key text,
    refresh_token_counter bigint,
    scopes text CONSTRAINT sessions_scopes_length CHECK (char_length(scopes) <= 4096)
);
CREATE INDEX IF NOT EXISTS sessions_user_id_idx ON auth.sessions (user_id);
CREATE INDEX IF NOT EXISTS user_id_created_at_idx ON auth.sessions (user_id, created_at);
CREATE INDEX IF NOT EXISTS sessions_not_after_idx ON auth.sessions (not_after DESC);
CREATE INDEX IF NOT EXISTS sessions_oauth_client_id_idx ON auth.sessions (oauth_client_id);
COMMENT ON TABLE auth.sessions IS 'Auth: Stores session data associated to a user.';

CREATE TABLE IF NOT EXISTS auth.refresh_tokens (
    instance_id uuid,
    id bigserial PRIMARY KEY,
    token varchar(255) CONSTRAINT refresh_tokens_token_unique UNIQUE,
    user_id varchar(255),
    revoked boolean,
    created_at timestamptz,
    updated_at timestamptz,
    parent varchar(255),
    session_id uuid REFERENCES auth.sessions (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS refresh_tokens_instance_id_idx ON auth.refresh_tokens (instance_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_instance_id_user_id_idx ON auth.refresh_tokens (instance_id, user_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_parent_idx ON auth.refresh_tokens (parent);
CREATE INDEX IF NOT EXISTS refresh_tokens_session_id_revoked_idx ON auth.refresh_tokens (session_id, revoked);
CREATE INDEX IF NOT EXISTS refresh_tokens_updated_at_idx ON auth.refresh_tokens (updated_at DESC);
COMMENT ON TABLE auth.refresh_tokens IS 'Auth: Store of tokens used to refresh JWT tokens once they expire.';

CREATE TABLE IF NOT EXISTS auth.mfa_factors (
    id uuid NOT NULL PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    friendly_name text,
    factor_type auth.factor_type NOT NULL,
    status auth.factor_status NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    secret text,
    phone text,
    last_challenged_at timestamptz UNIQUE,
    web_authn_credential jsonb,
    web_authn_aaguid uuid,
    last_webauthn_challenge_data jsonb
);
CREATE INDEX IF NOT EXISTS mfa_factors_user_id_idx ON auth.mfa_factors (user_id);
CREATE INDEX IF NOT EXISTS factor_id_created_at_idx ON auth.mfa_factors (user_id, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS mfa_factors_user_friendly_name_unique ON auth.mfa_factors (friendly_name, user_id)
    WHERE TRIM(BOTH FROM friendly_name) <> '';
CREATE UNIQUE INDEX IF NOT EXISTS unique_phone_factor_per_user ON auth.mfa_factors (user_id, phone);

CREATE TABLE IF NOT EXISTS auth.mfa_challenges (
    id uuid NOT NULL PRIMARY KEY,
    factor_id uuid NOT NULL CONSTRAINT mfa_challenges_auth_factor_id_fkey
        REFERENCES auth.mfa_factors (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    verified_at timestamptz,
    ip_address inet NOT NULL,
    otp_code text,
    web_authn_session_data jsonb
);
CREATE INDEX IF NOT EXISTS mfa_challenge_created_at_idx ON auth.mfa_challenges (created_at DESC);

CREATE TABLE IF NOT EXISTS auth.mfa_amr_claims (
    session_id uuid NOT NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    authentication_method text NOT NULL,
    id uuid NOT NULL CONSTRAINT amr_id_pk PRIMARY KEY,
    CONSTRAINT mfa_amr_claims_session_id_authentication_method_pkey UNIQUE (session_id, authentication_method)
);

CREATE TABLE IF NOT EXISTS auth.sso_providers (
    id uuid NOT NULL PRIMARY KEY,
    resource_id text CONSTRAINT "resource_id not empty" CHECK (resource_id = NULL OR char_length(resource_id) > 0),
    created_at timestamptz,
    updated_at timestamptz,
    disabled boolean
);
CREATE UNIQUE INDEX IF NOT EXISTS sso_providers_resource_id_idx ON auth.sso_providers (lower(resource_id));

CREATE TABLE IF NOT EXISTS auth.sso_domains (
    id uuid NOT NULL PRIMARY KEY,
    sso_provider_id uuid NOT NULL REFERENCES auth.sso_providers (id) ON DELETE CASCADE,
    domain text NOT NULL CONSTRAINT "domain not empty" CHECK (char_length(domain) > 0),
    created_at timestamptz,
    updated_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS sso_domains_domain_idx ON auth.sso_domains (lower(domain));
CREATE INDEX IF NOT EXISTS sso_domains_sso_provider_id_idx ON auth.sso_domains (sso_provider_id);

CREATE TABLE IF NOT EXISTS auth.saml_providers (
    id uuid NOT NULL PRIMARY KEY,
    sso_provider_id uuid NOT NULL REFERENCES auth.sso_providers (id) ON DELETE CASCADE,
    entity_id text NOT NULL UNIQUE CONSTRAINT "entity_id not empty" CHECK (char_length(entity_id) > 0),
    metadata_xml text NOT NULL CONSTRAINT "metadata_xml not empty" CHECK (char_length(metadata_xml) > 0),
    metadata_url text CONSTRAINT "metadata_url not empty" CHECK (metadata_url = NULL OR char_length(metadata_url) > 0),
    attribute_mapping jsonb,
    created_at timestamptz,
    updated_at timestamptz,
    name_id_format text
);
CREATE INDEX IF NOT EXISTS saml_providers_sso_provider_id_idx ON auth.saml_providers (sso_provider_id);

CREATE TABLE IF NOT EXISTS auth.flow_state (
    id uuid NOT NULL PRIMARY KEY,
    user_id uuid,
    auth_code text,
    code_challenge_method auth.code_challenge_method,
    code_challenge text,
    provider_type text NOT NULL,
    provider_access_token text,
    provider_refresh_token text,
    created_at timestamptz,
    updated_at timestamptz,
    authentication_method text NOT NULL,
    auth_code_issued_at timestamptz,
    invite_token text,
    referrer text,
    oauth_client_state_id uuid,
    linking_target_id uuid,
    email_optional boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS idx_auth_code ON auth.flow_state (auth_code);
CREATE INDEX IF NOT EXISTS idx_user_id_auth_method ON auth.flow_state (user_id, authentication_method);
CREATE INDEX IF NOT EXISTS flow_state_created_at_idx ON auth.flow_state (created_at DESC);
COMMENT ON TABLE auth.flow_state IS 'Stores metadata for all OAuth/SSO login flows';

CREATE TABLE IF NOT EXISTS auth.saml_relay_states (
    id uuid NOT NULL PRIMARY KEY,
    sso_provider_id uuid NOT NULL REFERENCES auth.sso_providers (id) ON DELETE CASCADE,
    request_id text NOT NULL CONSTRAINT "request_id not empty" CHECK (char_length(request_id) > 0),
    for_email text,
    redirect_to text,
    created_at timestamptz,
    updated_at timestamptz,
    flow_state_id uuid REFERENCES auth.flow_state (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS saml_relay_states_sso_provider_id_idx ON auth.saml_relay_states (sso_provider_id);
CREATE INDEX IF NOT EXISTS saml_relay_states_for_email_idx ON auth.saml_relay_states (for_email);
CREATE INDEX IF NOT EXISTS saml_relay_states_created_at_idx ON auth.saml_relay_states (created_at DESC);

CREATE TABLE IF NOT EXISTS auth.one_time_tokens (
    id uuid NOT NULL PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    token_type auth.one_time_token_type NOT NULL,
    token_hash text NOT NULL CHECK (char_length(token_hash) > 0),
    relates_to text NOT NULL,
    created_at timestamp NOT NULL DEFAULT now(),
    updated_at timestamp NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS one_time_tokens_user_id_token_type_key ON auth.one_time_tokens (user_id, token_type);
CREATE INDEX IF NOT EXISTS one_time_tokens_token_hash_hash_idx ON auth.one_time_tokens USING hash (token_hash);
CREATE INDEX IF NOT EXISTS one_time_tokens_relates_to_hash_idx ON auth.one_time_tokens USING hash (relates_to);

CREATE TABLE IF NOT EXISTS auth.audit_log_entries (
    instance_id uuid,
    id uuid NOT NULL PRIMARY KEY,
    payload json,
    created_at timestamptz,
    ip_address varchar(64) NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_logs_instance_id_idx ON auth.audit_log_entries (instance_id);
COMMENT ON TABLE auth.audit_log_entries IS 'Auth: Audit trail for user actions.';

CREATE TABLE IF NOT EXISTS auth.instances (
    id uuid NOT NULL PRIMARY KEY,
    uuid uuid,
    raw_base_config text,
    created_at timestamptz,
    updated_at timestamptz
);
COMMENT ON TABLE auth.instances IS 'Auth: Manages users across multiple sites.';

CREATE TABLE IF NOT EXISTS auth.schema_migrations (version varchar(255) NOT NULL PRIMARY KEY);
COMMENT ON TABLE auth.schema_migrations IS 'Auth: Manages updates to the auth system.';

CREATE TABLE IF NOT EXISTS auth.oauth_authorizations (
    id uuid NOT NULL PRIMARY KEY,
    authorization_id text NOT NULL UNIQUE,
    client_id uuid NOT NULL REFERENCES auth.oauth_clients (id) ON DELETE CASCADE,
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE,
    redirect_uri text NOT NULL CHECK (char_length(redirect_uri) <= 2048),
    scope text NOT NULL CHECK (char_length(scope) <= 4096),
    state text CHECK (char_length(state) <= 4096),
    resource text CHECK (char_length(resource) <= 2048),
    code_challenge text CHECK (char_length(code_challenge) <= 128),
    code_challenge_method auth.code_challenge_method,
    response_type auth.oauth_response_type NOT NULL DEFAULT 'code',
    status auth.oauth_authorization_status NOT NULL DEFAULT 'pending',
    authorization_code text UNIQUE CHECK (char_length(authorization_code) <= 255),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL DEFAULT (now() + '00:03:00'::interval),
    approved_at timestamptz,
    nonce text CHECK (char_length(nonce) <= 255),
    CHECK (expires_at > created_at)
);
CREATE INDEX IF NOT EXISTS oauth_auth_pending_exp_idx ON auth.oauth_authorizations (expires_at)
    WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS auth.oauth_consents (
    id uuid NOT NULL PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    client_id uuid NOT NULL REFERENCES auth.oauth_clients (id) ON DELETE CASCADE,
    scopes text NOT NULL CHECK (char_length(scopes) <= 2048 AND char_length(TRIM(BOTH FROM scopes)) > 0),
    granted_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT oauth_consents_user_client_unique UNIQUE (user_id, client_id),
    CHECK (revoked_at IS NULL OR revoked_at >= granted_at)
);

CREATE TABLE IF NOT EXISTS auth.oauth_client_states (
    id uuid NOT NULL PRIMARY KEY,
    provider_type text NOT NULL,
    code_verifier text,
    created_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS auth.webauthn_credentials (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    credential_id bytea NOT NULL UNIQUE,
    public_key bytea NOT NULL,
    attestation_type text NOT NULL DEFAULT '',
    aaguid uuid,
    sign_count bigint NOT NULL DEFAULT 0,
    transports jsonb NOT NULL DEFAULT '[]',
    backup_eligible boolean NOT NULL DEFAULT false,
    backed_up boolean NOT NULL DEFAULT false,
    friendly_name text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);

CREATE TABLE IF NOT EXISTS auth.webauthn_challenges (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE,
    challenge_type text NOT NULL CHECK (challenge_type IN ('signup', 'registration', 'authentication')),
    session_data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;
CREATE OR REPLACE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;
COMMENT ON FUNCTION auth.uid() IS 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
COMMENT ON FUNCTION auth.role() IS 'Deprecated. Use auth.jwt() -> ''role'' instead.';
COMMENT ON FUNCTION auth.email() IS 'Deprecated. Use auth.jwt() -> ''email'' instead.';

-- Owned by the auth server's role; row level security on, no policies; the API
-- roles get nothing on its tables.
DO $auth$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT c.oid::regclass AS name FROM pg_class c
             WHERE c.relnamespace = 'auth'::regnamespace AND c.relkind = 'r' LOOP
        -- Owned sequences follow their table.
        EXECUTE format('ALTER TABLE %s OWNER TO supabase_auth_admin', t.name);
        EXECUTE format('GRANT ALL ON %s TO supabase_auth_admin, dashboard_user, postgres', t.name);
        IF t.name::text NOT LIKE 'auth.oauth%' AND t.name::text NOT LIKE 'auth.webauthn%' THEN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.name);
        END IF;
    END LOOP;
    FOR t IN SELECT p.oid::regprocedure AS name FROM pg_proc p WHERE p.pronamespace = 'auth'::regnamespace LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO supabase_auth_admin', t.name);
    END LOOP;
    FOR t IN SELECT ty.oid::regtype AS name FROM pg_type ty
             WHERE ty.typnamespace = 'auth'::regnamespace AND ty.typtype = 'e' LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO supabase_auth_admin', t.name);
    END LOOP;
END
$auth$;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA auth TO supabase_auth_admin, dashboard_user, postgres;

-- storage: the storage API's schema --------------------------------------------
DO $types$
BEGIN
    IF to_regtype('storage.buckettype') IS NULL THEN
        CREATE TYPE storage.buckettype AS ENUM ('STANDARD', 'ANALYTICS', 'VECTOR');
    END IF;
END
$types$;

CREATE TABLE IF NOT EXISTS storage.buckets (
    id text NOT NULL PRIMARY KEY,
    name text NOT NULL,
    owner uuid,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    public boolean DEFAULT false,
    avif_autodetection boolean DEFAULT false,
    file_size_limit bigint,
    allowed_mime_types text[],
    owner_id text,
    type storage.buckettype NOT NULL DEFAULT 'STANDARD',
    versioning_status text NOT NULL DEFAULT 'DISABLED'
        CHECK (versioning_status IN ('DISABLED', 'ENABLED', 'SUSPENDED')),
    CONSTRAINT buckets_versioning_standard_only_check CHECK (type = 'STANDARD' OR versioning_status = 'DISABLED')
);
CREATE UNIQUE INDEX IF NOT EXISTS bname ON storage.buckets (name);

CREATE TABLE IF NOT EXISTS storage.objects (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    bucket_id text CONSTRAINT "objects_bucketId_fkey" REFERENCES storage.buckets (id),
    name text,
    owner uuid,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    last_accessed_at timestamptz DEFAULT now(),
    metadata jsonb,
    path_tokens text[] GENERATED ALWAYS AS (string_to_array(name, '/')) STORED,
    version text,
    owner_id text,
    user_metadata jsonb,
    archived_at timestamptz,
    is_delete_marker boolean NOT NULL DEFAULT false,
    is_versioned boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX IF NOT EXISTS bucketid_objname ON storage.objects (bucket_id, name);
CREATE INDEX IF NOT EXISTS name_prefix_search ON storage.objects (name text_pattern_ops);
CREATE INDEX IF NOT EXISTS idx_objects_bucket_id_name ON storage.objects (bucket_id, name COLLATE "C");

CREATE TABLE IF NOT EXISTS storage.migrations (
    id integer NOT NULL PRIMARY KEY,
    name varchar(100) NOT NULL UNIQUE,
    hash varchar(40) NOT NULL,
    executed_at timestamp DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS storage.s3_multipart_uploads (
    id text NOT NULL PRIMARY KEY,
    in_progress_size bigint NOT NULL DEFAULT 0,
    upload_signature text NOT NULL,
    bucket_id text NOT NULL REFERENCES storage.buckets (id),
    key text NOT NULL COLLATE "C",
    version text NOT NULL,
    owner_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    user_metadata jsonb,
    metadata jsonb
);
CREATE INDEX IF NOT EXISTS idx_multipart_uploads_list ON storage.s3_multipart_uploads (bucket_id, key, created_at);

CREATE TABLE IF NOT EXISTS storage.s3_multipart_uploads_parts (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    upload_id text NOT NULL REFERENCES storage.s3_multipart_uploads (id) ON DELETE CASCADE,
    size bigint NOT NULL DEFAULT 0,
    part_number integer NOT NULL,
    bucket_id text NOT NULL REFERENCES storage.buckets (id),
    key text NOT NULL COLLATE "C",
    etag text NOT NULL,
    owner_id text,
    version text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS storage.buckets_analytics (
    name text NOT NULL,
    type storage.buckettype NOT NULL DEFAULT 'ANALYTICS',
    format text NOT NULL DEFAULT 'ICEBERG',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    deleted_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS buckets_analytics_unique_name_idx ON storage.buckets_analytics (name)
    WHERE deleted_at IS NULL;

CREATE OR REPLACE FUNCTION storage.foldername(name text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parts text[];
BEGIN
    SELECT string_to_array(name, '/') INTO parts;
    RETURN parts[1:array_length(parts, 1) - 1];
END
$$;
CREATE OR REPLACE FUNCTION storage.filename(name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parts text[];
BEGIN
    SELECT string_to_array(name, '/') INTO parts;
    RETURN parts[array_length(parts, 1)];
END
$$;
CREATE OR REPLACE FUNCTION storage.extension(name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parts text[];
    last text;
BEGIN
    SELECT string_to_array(name, '/') INTO parts;
    last := parts[array_length(parts, 1)];
    IF position('.' IN last) = 0 THEN
        RETURN '';
    END IF;
    RETURN reverse(split_part(reverse(last), '.', 1));
END
$$;
CREATE OR REPLACE FUNCTION storage.get_size_by_bucket() RETURNS TABLE (size bigint, bucket_id text)
LANGUAGE sql STABLE AS $$
    SELECT sum((metadata ->> 'size')::bigint)::bigint, bucket_id FROM storage.objects GROUP BY bucket_id
$$;
CREATE OR REPLACE FUNCTION storage.search(prefix text, bucketname text, limits integer DEFAULT 100,
    levels integer DEFAULT 1, offsets integer DEFAULT 0, search text DEFAULT '', sortcolumn text DEFAULT 'name',
    sortorder text DEFAULT 'asc')
    RETURNS TABLE (name text, id uuid, updated_at timestamptz, created_at timestamptz,
                   last_accessed_at timestamptz, metadata jsonb)
LANGUAGE sql STABLE AS $$
    SELECT o.name, o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata
    FROM storage.objects o
    WHERE o.bucket_id = bucketname AND o.name ILIKE prefix || '%' AND o.name ILIKE '%' || search || '%'
    ORDER BY o.name
    LIMIT limits OFFSET offsets
$$;
CREATE OR REPLACE FUNCTION storage.list_objects_with_delimiter(_bucket_id text, prefix_param text,
    delimiter_param text, max_keys integer DEFAULT 100, start_after text DEFAULT '', next_token text DEFAULT '',
    sort_order text DEFAULT 'asc')
    RETURNS TABLE (name text, id uuid, metadata jsonb, updated_at timestamptz, created_at timestamptz,
                   last_accessed_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT o.name, o.id, o.metadata, o.updated_at, o.created_at, o.last_accessed_at
    FROM storage.objects o
    WHERE o.bucket_id = _bucket_id AND o.name LIKE prefix_param || '%' AND o.name > start_after
    ORDER BY o.name COLLATE "C"
    LIMIT max_keys
$$;
CREATE OR REPLACE FUNCTION storage.list_multipart_uploads_with_delimiter(bucket_id text, prefix_param text,
    delimiter_param text, max_keys integer DEFAULT 100, next_key_token text DEFAULT '',
    next_upload_token text DEFAULT '')
    RETURNS TABLE (key text, id text, created_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT u.key, u.id, u.created_at FROM storage.s3_multipart_uploads u
    WHERE u.bucket_id = $1 AND u.key LIKE prefix_param || '%'
    ORDER BY u.key COLLATE "C", u.created_at
    LIMIT max_keys
$$;
CREATE OR REPLACE FUNCTION storage.can_insert_object(bucketid text, name text, owner uuid, metadata jsonb)
    RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO storage.objects (bucket_id, name, owner, metadata) VALUES (bucketid, name, owner, metadata);
    -- A probe of the row level security policies: the row never stays.
    RAISE sqlstate 'PT200' USING message = 'ROLLBACK', detail = 'rollback successful insert';
END
$$;
CREATE OR REPLACE FUNCTION storage.operation() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT current_setting('storage.operation', true) $$;
CREATE OR REPLACE FUNCTION storage.allow_only_operation(expected_operation text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT regexp_replace(coalesce(storage.operation(), ''), '^storage\.', '')
         = regexp_replace(expected_operation, '^storage\.', '')
$$;
CREATE OR REPLACE FUNCTION storage.allow_any_operation(expected_operations text[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT regexp_replace(coalesce(storage.operation(), ''), '^storage\.', '')
         = ANY (SELECT regexp_replace(e, '^storage\.', '') FROM unnest(expected_operations) AS e)
$$;
CREATE OR REPLACE FUNCTION storage.update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END
$$;
CREATE OR REPLACE FUNCTION storage.enforce_bucket_name_length() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF length(NEW.name) > 100 THEN
        RAISE EXCEPTION 'bucket name "%" is too long (% characters). Max is 100.', NEW.name, length(NEW.name);
    END IF;
    RETURN NEW;
END
$$;
-- As on Supabase: rows of storage go through the Storage API, so a migration's
-- DELETE FROM storage.objects fails there, and here.
CREATE OR REPLACE FUNCTION storage.protect_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('storage.allow_delete_query', true), 'false') <> 'true' THEN
        RAISE EXCEPTION 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
            USING ERRCODE = '42501',
                  HINT = 'This prevents accidental data loss from orphaned objects.';
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER update_objects_updated_at BEFORE UPDATE ON storage.objects
    FOR EACH ROW EXECUTE FUNCTION storage.update_updated_at_column();
CREATE OR REPLACE TRIGGER protect_objects_delete BEFORE DELETE ON storage.objects
    FOR EACH STATEMENT EXECUTE FUNCTION storage.protect_delete();
CREATE OR REPLACE TRIGGER protect_buckets_delete BEFORE DELETE ON storage.buckets
    FOR EACH STATEMENT EXECUTE FUNCTION storage.protect_delete();
CREATE OR REPLACE TRIGGER enforce_bucket_name_length_trigger BEFORE INSERT OR UPDATE OF name ON storage.buckets
    FOR EACH ROW EXECUTE FUNCTION storage.enforce_bucket_name_length();

DO $storage$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT c.oid::regclass AS name FROM pg_class c
             WHERE c.relnamespace = 'storage'::regnamespace AND c.relkind = 'r' LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO supabase_storage_admin', t.name);
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.name);
    END LOOP;
    FOR t IN SELECT p.oid::regprocedure AS name FROM pg_proc p WHERE p.pronamespace = 'storage'::regnamespace LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO supabase_storage_admin', t.name);
    END LOOP;
    ALTER TYPE storage.buckettype OWNER TO supabase_storage_admin;
END
$storage$;
GRANT ALL ON storage.buckets, storage.objects, storage.buckets_analytics TO anon, authenticated, service_role;
GRANT ALL ON storage.buckets, storage.objects TO postgres WITH GRANT OPTION;
GRANT ALL ON storage.s3_multipart_uploads, storage.s3_multipart_uploads_parts TO service_role;
GRANT SELECT ON storage.s3_multipart_uploads, storage.s3_multipart_uploads_parts TO anon, authenticated;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA storage TO anon, authenticated, service_role, postgres, dashboard_user;

-- realtime ------------------------------------------------------------------------
DO $types$
BEGIN
    IF to_regtype('realtime.action') IS NULL THEN
        CREATE TYPE realtime.action AS ENUM ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'ERROR');
        CREATE TYPE realtime.equality_op AS ENUM ('eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'like', 'ilike',
            'is', 'match', 'imatch', 'isdistinct');
        CREATE TYPE realtime.user_defined_filter AS (column_name text, op realtime.equality_op, value text,
            negate boolean);
    END IF;
END
$types$;
CREATE TABLE IF NOT EXISTS realtime.messages (
    topic text NOT NULL,
    extension text NOT NULL,
    payload jsonb,
    event text,
    private boolean DEFAULT false,
    updated_at timestamp NOT NULL DEFAULT now(),
    inserted_at timestamp NOT NULL DEFAULT now(),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    binary_payload bytea,
    PRIMARY KEY (id, inserted_at)
) PARTITION BY RANGE (inserted_at);
ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;
CREATE TABLE IF NOT EXISTS realtime.schema_migrations (version bigint PRIMARY KEY, inserted_at timestamp(0));

CREATE OR REPLACE FUNCTION realtime.topic() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('realtime.topic', true), '')::text $$;
CREATE OR REPLACE FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean DEFAULT true)
    RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- No partition holds the message in a throwaway database: like Realtime, warn, never fail.
    BEGIN
        PERFORM set_config('realtime.topic', topic, true);
        INSERT INTO realtime.messages (payload, event, topic, private, extension)
        VALUES (payload, event, topic, private, 'broadcast');
    EXCEPTION WHEN others THEN
        RAISE WARNING 'WarnSendingBroadcastMessage: %', SQLERRM;
    END;
END
$$;
CREATE OR REPLACE FUNCTION realtime.broadcast_changes(topic_name text, event_name text, operation text,
    table_name text, table_schema text, new record, old record, level text DEFAULT 'ROW') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF level = 'STATEMENT' THEN
        RAISE EXCEPTION 'function can only be triggered for each row, not for each statement';
    END IF;
    PERFORM realtime.send(jsonb_build_object('old_record', to_jsonb(old), 'record', to_jsonb(new),
        'operation', operation, 'table', table_name, 'schema', table_schema), event_name, topic_name);
END
$$;
DO $realtime$
BEGIN
    ALTER TABLE realtime.messages OWNER TO supabase_realtime_admin;
    ALTER FUNCTION realtime.topic() OWNER TO supabase_realtime_admin;
    ALTER FUNCTION realtime.send(jsonb, text, text, boolean) OWNER TO supabase_realtime_admin;
    ALTER FUNCTION realtime.broadcast_changes(text, text, text, text, text, record, record, text)
        OWNER TO supabase_realtime_admin;
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
        CREATE PUBLICATION supabase_realtime;
    END IF;
END
$realtime$;
GRANT ALL ON realtime.messages TO postgres, dashboard_user;
GRANT SELECT, INSERT, UPDATE ON realtime.messages TO anon, authenticated, service_role;

-- supabase_functions: Database Webhooks (as the CLI's local stack has them) ----
CREATE TABLE IF NOT EXISTS supabase_functions.migrations (
    version text PRIMARY KEY,
    inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS supabase_functions.hooks (
    id bigserial PRIMARY KEY,
    hook_table_id integer NOT NULL,
    hook_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    request_id bigint
);
CREATE INDEX IF NOT EXISTS supabase_functions_hooks_request_id_idx ON supabase_functions.hooks (request_id);
CREATE INDEX IF NOT EXISTS supabase_functions_hooks_h_table_id_h_name_idx
    ON supabase_functions.hooks (hook_table_id, hook_name);
CREATE OR REPLACE FUNCTION supabase_functions.http_request() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = supabase_functions AS $$
DECLARE
    request_id bigint;
    url text := TG_ARGV[0]::text;
    method text := TG_ARGV[1]::text;
    headers jsonb := coalesce(TG_ARGV[2]::jsonb, '{}');
    params jsonb := coalesce(TG_ARGV[3]::jsonb, '{}');
    timeout_ms integer := coalesce(TG_ARGV[4]::integer, 1000);
BEGIN
    IF method = 'GET' THEN
        SELECT net.http_get(url, params, headers, timeout_ms) INTO request_id;
    ELSE
        SELECT net.http_post(url, jsonb_build_object('old_record', OLD, 'record', NEW, 'type', TG_OP,
            'table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA), params, headers, timeout_ms) INTO request_id;
    END IF;
    INSERT INTO supabase_functions.hooks (hook_table_id, hook_name, request_id)
    VALUES (TG_RELID, TG_NAME, request_id);
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION supabase_functions.http_request() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION supabase_functions.http_request() TO postgres, anon, authenticated, service_role;
DO $functions$
BEGIN
    ALTER TABLE supabase_functions.migrations OWNER TO supabase_functions_admin;
    ALTER TABLE supabase_functions.hooks OWNER TO supabase_functions_admin;
    ALTER FUNCTION supabase_functions.http_request() OWNER TO supabase_functions_admin;
END
$functions$;
INSERT INTO supabase_functions.migrations (version) VALUES ('initial'), ('20210809183423_update_grants')
    ON CONFLICT DO NOTHING;

RESET search_path;
SELECT pg_catalog.set_config('search_path', '"$user", public, extensions', false);
