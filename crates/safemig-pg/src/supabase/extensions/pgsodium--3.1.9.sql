-- safemig stand-in for pgsodium (source of truth: michelp/pgsodium, sql/*.sql).
-- Its schema, key table and key functions, because Supabase baselines create
-- the extension; no cryptography is done (encrypting functions are absent).
CREATE TYPE pgsodium.key_status AS ENUM ('default', 'valid', 'invalid', 'expired');
CREATE TYPE pgsodium.key_type AS ENUM ('aead-ietf', 'aead-det', 'hmacsha512', 'hmacsha256', 'auth', 'shorthash',
    'generichash', 'kdf', 'secretbox', 'secretstream', 'stream_xchacha20');
CREATE TABLE pgsodium.key (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status pgsodium.key_status DEFAULT 'valid',
    created timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires timestamptz,
    key_type pgsodium.key_type,
    key_id bigint,
    key_context bytea DEFAULT '\x7067736f6469756d',
    name text UNIQUE,
    associated_data text DEFAULT 'associated',
    raw_key bytea,
    raw_key_nonce bytea,
    parent_key uuid REFERENCES pgsodium.key (id),
    comment text,
    user_data text
);
CREATE VIEW pgsodium.valid_key AS
    SELECT id, name, status, key_type, key_id, key_context, created, expires, associated_data
    FROM pgsodium.key WHERE status IN ('valid', 'default') AND (expires IS NULL OR expires > now());
CREATE FUNCTION pgsodium.create_key(key_type pgsodium.key_type DEFAULT 'aead-det', name text DEFAULT NULL,
    raw_key bytea DEFAULT NULL, raw_key_nonce bytea DEFAULT NULL, parent_key uuid DEFAULT NULL,
    key_context bytea DEFAULT '\x7067736f6469756d', expires timestamptz DEFAULT NULL,
    associated_data text DEFAULT '') RETURNS pgsodium.valid_key
LANGUAGE sql AS $$
    WITH created AS (
        INSERT INTO pgsodium.key (key_type, name, raw_key, raw_key_nonce, parent_key, key_context, expires, associated_data)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
    )
    SELECT k.id, $2, 'valid'::pgsodium.key_status, $1, NULL::bigint, $6, now(), $7, $8 FROM created k
$$;
DO $roles$
DECLARE r text;
BEGIN
    -- Roles belong to the whole cluster: another database may have made them.
    FOREACH r IN ARRAY ARRAY['pgsodium_keyiduser', 'pgsodium_keyholder', 'pgsodium_keymaker'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;
