-- safemig stand-in for plpgsql_check (source of truth: okbob/plpgsql_check).
-- Its entry points exist and report nothing.
CREATE FUNCTION @extschema@.plpgsql_check_function(funcoid regprocedure, relid regclass DEFAULT 0,
    format text DEFAULT 'text', fatal_errors boolean DEFAULT true, other_warnings boolean DEFAULT true,
    performance_warnings boolean DEFAULT false, extra_warnings boolean DEFAULT true,
    security_warnings boolean DEFAULT false) RETURNS SETOF text
LANGUAGE sql AS $$ SELECT NULL::text WHERE false $$;
CREATE FUNCTION @extschema@.plpgsql_check_function_tb(funcoid regprocedure, relid regclass DEFAULT 0,
    fatal_errors boolean DEFAULT true, other_warnings boolean DEFAULT true,
    performance_warnings boolean DEFAULT false, extra_warnings boolean DEFAULT true,
    security_warnings boolean DEFAULT false)
    RETURNS TABLE (functionid regproc, lineno integer, statement text, sqlstate text, message text, detail text,
                   hint text, level text, "position" integer, query text, context text)
LANGUAGE sql AS $$
    SELECT NULL::regproc, NULL::int, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
           NULL::int, NULL::text, NULL::text WHERE false
$$;
