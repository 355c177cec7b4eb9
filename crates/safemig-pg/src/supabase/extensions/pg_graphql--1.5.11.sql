-- safemig stand-in for pg_graphql (source of truth: supabase/pg_graphql, sql/*.sql).
-- The entry points exist, so grants and wrappers replay; no query is answered.
CREATE FUNCTION graphql.resolve(query text, variables jsonb DEFAULT '{}', "operationName" text DEFAULT NULL,
    extensions jsonb DEFAULT NULL) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'message', 'pg_graphql is a safemig stand-in here: no query is answered')))
$$;
CREATE FUNCTION graphql.comment_directive(comment_ text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$ SELECT NULL::jsonb $$;
CREATE FUNCTION graphql.exception(message text) RETURNS text
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING errcode = '22000', message = message; END $$;
CREATE FUNCTION graphql.get_schema_version() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
GRANT USAGE ON SCHEMA graphql TO public;
