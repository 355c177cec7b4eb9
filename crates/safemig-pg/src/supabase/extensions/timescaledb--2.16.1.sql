-- safemig stand-in for TimescaleDB (source of truth: timescale/timescaledb,
-- sql/*.sql). Written for safemig: a hypertable stays a plain table (recorded in
-- @extschema@.hypertables), time_bucket is date_bin with TimescaleDB's origin,
-- and the policy functions record nothing. Continuous aggregates
-- (WITH (timescaledb.continuous)) cannot be stood in for.
CREATE TABLE @extschema@.hypertables (
    hypertable_id serial PRIMARY KEY,
    relation regclass UNIQUE NOT NULL,
    time_column_name name NOT NULL
);

CREATE FUNCTION @extschema@.create_hypertable(relation regclass, time_column_name name,
    partitioning_column name DEFAULT NULL, number_partitions integer DEFAULT NULL,
    associated_schema_name name DEFAULT NULL, associated_table_prefix name DEFAULT NULL,
    chunk_time_interval anyelement DEFAULT NULL::bigint, create_default_indexes boolean DEFAULT true,
    if_not_exists boolean DEFAULT false, partitioning_func regproc DEFAULT NULL, migrate_data boolean DEFAULT false,
    chunk_target_size text DEFAULT NULL, chunk_sizing_func regproc DEFAULT NULL,
    time_partitioning_func regproc DEFAULT NULL)
    RETURNS TABLE (hypertable_id integer, schema_name name, table_name name, created boolean)
LANGUAGE plpgsql AS $$
DECLARE
    made integer;
BEGIN
    INSERT INTO @extschema@.hypertables AS h (relation, time_column_name)
    VALUES (create_hypertable.relation, create_hypertable.time_column_name)
    ON CONFLICT DO NOTHING
    RETURNING h.hypertable_id INTO made;
    IF made IS NULL AND NOT if_not_exists THEN
        RAISE EXCEPTION 'table "%" is already a hypertable', relation;
    END IF;
    RETURN QUERY SELECT coalesce(made, (SELECT h.hypertable_id FROM @extschema@.hypertables h
                                        WHERE h.relation = create_hypertable.relation)),
                        n.nspname, c.relname, made IS NOT NULL
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation;
END
$$;

CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT date_bin(bucket_width, ts, '2000-01-03 00:00:00+00'::timestamptz) $$;
CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT date_bin(bucket_width, ts, '2000-01-03 00:00:00'::timestamp) $$;
CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts date) RETURNS date
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT date_bin(bucket_width, ts::timestamp, '2000-01-03'::timestamp)::date $$;
CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamptz, origin timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT date_bin(bucket_width, ts, origin) $$;

CREATE FUNCTION @extschema@.add_retention_policy(relation regclass, drop_after anyelement, if_not_exists boolean DEFAULT false,
    schedule_interval interval DEFAULT NULL, initial_start timestamptz DEFAULT NULL, timezone text DEFAULT NULL)
    RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;
CREATE FUNCTION @extschema@.remove_retention_policy(relation regclass, if_exists boolean DEFAULT false)
    RETURNS void LANGUAGE plpgsql AS $$ BEGIN RETURN; END $$;
CREATE FUNCTION @extschema@.add_compression_policy(hypertable regclass, compress_after anyelement,
    if_not_exists boolean DEFAULT false, schedule_interval interval DEFAULT NULL,
    initial_start timestamptz DEFAULT NULL, timezone text DEFAULT NULL)
    RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;
CREATE FUNCTION @extschema@.remove_compression_policy(hypertable regclass, if_exists boolean DEFAULT false)
    RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN true; END $$;
