-- safemig stand-in for pg_jsonschema (source of truth: supabase/pg_jsonschema).
-- The functions exist so that CHECK constraints using them replay; every
-- document matches here (no JSON Schema is evaluated).
CREATE FUNCTION @extschema@.json_matches_schema(schema json, instance json) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
CREATE FUNCTION @extschema@.jsonb_matches_schema(schema json, instance jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
CREATE FUNCTION @extschema@.jsonschema_is_valid(schema json) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
CREATE FUNCTION @extschema@.jsonschema_validation_errors(schema json, instance json) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY[]::text[] $$;
