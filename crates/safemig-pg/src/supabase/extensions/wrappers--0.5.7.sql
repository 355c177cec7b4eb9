-- safemig stand-in for wrappers (source of truth: supabase/wrappers, the handler,
-- validator and meta functions each wrapper declares). Written for safemig:
-- CREATE FOREIGN DATA WRAPPER / SERVER / FOREIGN TABLE replay (options are
-- accepted as given, but for file_fdw's own), and reading a foreign table fails:
-- the handler is file_fdw's, which finds no file to read, and nothing is fetched.
CREATE FUNCTION @extschema@.wrappers_stand_in_options(options text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Never let a foreign table name a file or a program for the handler to read.
    IF EXISTS (SELECT 1 FROM unnest(options) o WHERE split_part(o, '=', 1) IN ('filename', 'program')) THEN
        RAISE EXCEPTION 'option filename or program is not accepted by the wrappers stand-in';
    END IF;
END
$$;
CREATE FUNCTION @extschema@.airtable_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.airtable_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.airtable_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'airtable', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.auth0_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.auth0_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.auth0_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'auth0', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.big_query_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.big_query_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.big_query_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'big_query', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.bigquery_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.bigquery_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.bigquery_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'bigquery', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.click_house_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.click_house_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.click_house_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'click_house', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.clickhouse_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.clickhouse_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.clickhouse_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'clickhouse', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.cognito_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.cognito_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.cognito_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'cognito', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.firebase_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.firebase_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.firebase_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'firebase', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.logflare_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.logflare_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.logflare_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'logflare', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.mssql_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.mssql_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.mssql_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'mssql', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.redis_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.redis_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.redis_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'redis', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.s3_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.s3_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.s3_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 's3', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.stripe_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.stripe_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.stripe_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'stripe', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.wasm_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.wasm_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.wasm_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'wasm', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.iceberg_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.iceberg_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.iceberg_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'iceberg', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.duckdb_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.duckdb_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.duckdb_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'duckdb', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.cal_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.cal_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.cal_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'cal', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.calendly_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.calendly_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.calendly_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'calendly', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.clerk_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.clerk_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.clerk_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'clerk', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.notion_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.notion_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.notion_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'notion', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.paddle_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.paddle_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.paddle_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'paddle', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.snowflake_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.snowflake_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.snowflake_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'snowflake', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.hubspot_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.hubspot_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.hubspot_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'hubspot', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.orb_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.orb_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.orb_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'orb', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.gravatar_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.gravatar_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.gravatar_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'gravatar', 'safemig stand-in', 'safemig', '' $$;
CREATE FUNCTION @extschema@.openapi_fdw_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS '$libdir/file_fdw', 'file_fdw_handler';
CREATE FUNCTION @extschema@.openapi_fdw_validator(options text[], catalog oid) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN PERFORM @extschema@.wrappers_stand_in_options(options); END $$;
CREATE FUNCTION @extschema@.openapi_fdw_meta() RETURNS TABLE (name text, version text, author text, website text)
    LANGUAGE sql AS $$ SELECT 'openapi', 'safemig stand-in', 'safemig', '' $$;
