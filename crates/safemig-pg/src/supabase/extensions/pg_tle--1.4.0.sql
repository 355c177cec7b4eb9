-- safemig stand-in for pg_tle (source of truth: aws/pg_tle). The pgtle schema
-- and its install functions exist; nothing is installed by them.
CREATE FUNCTION pgtle.install_extension(name text, version text, description text, ext text,
    requires text[] DEFAULT NULL) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION pgtle.install_update_path(name text, fromvers text, tovers text, ext text)
    RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION pgtle.uninstall_extension(extname text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION pgtle.available_extensions(OUT name name, OUT default_version text, OUT comment text)
    RETURNS SETOF record LANGUAGE sql AS $$ SELECT NULL::name, NULL::text, NULL::text WHERE false $$;
