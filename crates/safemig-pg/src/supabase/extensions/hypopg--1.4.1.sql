-- safemig stand-in for HypoPG (source of truth: HypoPG/hypopg, hypopg--*.sql).
-- Its functions and view exist; no hypothetical index is ever made.
CREATE FUNCTION @extschema@.hypopg_create_index(sql_order text, OUT indexrelid oid, OUT indexname text)
    RETURNS SETOF record LANGUAGE sql AS $$ SELECT NULL::oid, NULL::text WHERE false $$;
CREATE FUNCTION @extschema@.hypopg_drop_index(indexid oid) RETURNS boolean LANGUAGE sql AS $$ SELECT false $$;
CREATE FUNCTION @extschema@.hypopg_reset() RETURNS void LANGUAGE plpgsql AS $$ BEGIN RETURN; END $$;
CREATE FUNCTION @extschema@.hypopg_reset_index() RETURNS void LANGUAGE plpgsql AS $$ BEGIN RETURN; END $$;
CREATE FUNCTION @extschema@.hypopg_relation_size(indexid oid) RETURNS bigint LANGUAGE sql AS $$ SELECT 0::bigint $$;
CREATE FUNCTION @extschema@.hypopg_get_indexdef(indexid oid) RETURNS text LANGUAGE sql AS $$ SELECT NULL::text $$;
CREATE FUNCTION @extschema@.hypopg(OUT indexname text, OUT indexrelid oid, OUT indrelid oid, OUT innatts integer,
    OUT indisunique boolean, OUT indkey int2vector, OUT indcollation oidvector, OUT indclass oidvector,
    OUT indoption oidvector, OUT indexprs pg_node_tree, OUT indpred pg_node_tree, OUT amid oid)
    RETURNS SETOF record LANGUAGE sql AS $$
    SELECT NULL::text, NULL::oid, NULL::oid, NULL::int, NULL::bool, NULL::int2vector, NULL::oidvector,
           NULL::oidvector, NULL::oidvector, NULL::pg_node_tree, NULL::pg_node_tree, NULL::oid WHERE false
$$;
CREATE VIEW @extschema@.hypopg_list_indexes AS
    SELECT h.indexrelid, h.indexname AS index_name, NULL::name AS schema_name, NULL::name AS table_name,
           NULL::name AS am_name
    FROM @extschema@.hypopg() h;
CREATE VIEW @extschema@.hypopg_hidden_indexes AS SELECT NULL::oid AS indexid WHERE false;
