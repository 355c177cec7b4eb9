-- safemig stand-in for pgmq (source of truth: tembo-io/pgmq, pgmq-extension/sql).
-- Written for safemig: each queue is a table pgmq.q_<name> (and its archive
-- pgmq.a_<name>), and the functions projects call (Supabase Queues, pgflow) work
-- on them as pgmq's do.
CREATE TABLE pgmq.meta (
    queue_name varchar UNIQUE NOT NULL,
    is_partitioned boolean NOT NULL,
    is_unlogged boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TYPE pgmq.message_record AS (msg_id bigint, read_ct integer, enqueued_at timestamptz, vt timestamptz,
    message jsonb, headers jsonb);
CREATE TYPE pgmq.queue_record AS (queue_name varchar, is_partitioned boolean, is_unlogged boolean,
    created_at timestamptz);
CREATE TYPE pgmq.metrics_result AS (queue_name text, queue_length bigint, newest_msg_age_sec integer,
    oldest_msg_age_sec integer, total_messages bigint, scrape_time timestamptz);

CREATE FUNCTION pgmq.format_table_name(queue_name text, prefix text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF queue_name ~ '\$|;|--|''' THEN
        RAISE EXCEPTION 'queue name contains invalid characters: $, ;, --, or \''';
    END IF;
    RETURN lower(prefix || '_' || queue_name);
END
$$;

CREATE FUNCTION pgmq.validate_queue_name(queue_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF length(queue_name) >= 48 THEN
        RAISE EXCEPTION 'queue name is too long, maximum length is 48 characters';
    END IF;
END
$$;

CREATE FUNCTION pgmq.create(queue_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    q text := pgmq.format_table_name(queue_name, 'q');
    a text := pgmq.format_table_name(queue_name, 'a');
BEGIN
    PERFORM pgmq.validate_queue_name(queue_name);
    EXECUTE format('CREATE TABLE IF NOT EXISTS pgmq.%I (msg_id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY, '
        'read_ct integer DEFAULT 0 NOT NULL, enqueued_at timestamptz DEFAULT now() NOT NULL, '
        'vt timestamptz NOT NULL, message jsonb, headers jsonb)', q);
    EXECUTE format('CREATE TABLE IF NOT EXISTS pgmq.%I (msg_id bigint PRIMARY KEY, read_ct integer DEFAULT 0 NOT NULL, '
        'enqueued_at timestamptz DEFAULT now() NOT NULL, archived_at timestamptz DEFAULT now() NOT NULL, '
        'vt timestamptz NOT NULL, message jsonb, headers jsonb)', a);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (vt ASC)', q || '_vt_idx', q);
    INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged)
    VALUES (queue_name, false, false) ON CONFLICT DO NOTHING;
END
$$;

CREATE FUNCTION pgmq.create_unlogged(queue_name text) RETURNS void
LANGUAGE sql AS $$ SELECT pgmq.create(queue_name) $$;

CREATE FUNCTION pgmq.create_non_partitioned(queue_name text) RETURNS void
LANGUAGE sql AS $$ SELECT pgmq.create(queue_name) $$;

CREATE FUNCTION pgmq.create_partitioned(queue_name text, partition_interval text DEFAULT '10000',
    retention_interval text DEFAULT '100000') RETURNS void
LANGUAGE sql AS $$ SELECT pgmq.create(queue_name) $$;

CREATE FUNCTION pgmq.drop_queue(queue_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS pgmq.%I', pgmq.format_table_name(queue_name, 'q'));
    EXECUTE format('DROP TABLE IF EXISTS pgmq.%I', pgmq.format_table_name(queue_name, 'a'));
    DELETE FROM pgmq.meta m WHERE m.queue_name = drop_queue.queue_name;
    RETURN true;
END
$$;

CREATE FUNCTION pgmq.purge_queue(queue_name text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    deleted bigint;
BEGIN
    EXECUTE format('WITH d AS (DELETE FROM pgmq.%I RETURNING 1) SELECT count(*) FROM d',
                   pgmq.format_table_name(queue_name, 'q')) INTO deleted;
    RETURN deleted;
END
$$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay integer DEFAULT 0)
    RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format('INSERT INTO pgmq.%I (vt, message, headers) '
        'SELECT clock_timestamp() + make_interval(secs => $3), m, h FROM unnest($1, $2) AS x(m, h) RETURNING msg_id',
        pgmq.format_table_name(queue_name, 'q')) USING msgs, headers, delay;
END
$$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay integer DEFAULT 0) RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT pgmq.send_batch(queue_name, msgs, NULL::jsonb[], delay) $$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb, delay integer DEFAULT 0) RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT pgmq.send_batch(queue_name, ARRAY[msg], ARRAY[headers], delay) $$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, delay integer DEFAULT 0) RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT pgmq.send_batch(queue_name, ARRAY[msg], NULL::jsonb[], delay) $$;

CREATE FUNCTION pgmq.read(queue_name text, vt integer, qty integer) RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql AS $$
DECLARE
    q text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    RETURN QUERY EXECUTE format('WITH cte AS (SELECT msg_id FROM pgmq.%I WHERE vt <= clock_timestamp() '
        'ORDER BY msg_id LIMIT $1 FOR UPDATE SKIP LOCKED) '
        'UPDATE pgmq.%I m SET vt = clock_timestamp() + make_interval(secs => $2), read_ct = read_ct + 1 '
        'FROM cte WHERE m.msg_id = cte.msg_id RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message, m.headers',
        q, q) USING qty, vt;
END
$$;

CREATE FUNCTION pgmq.read_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5,
    poll_interval_ms integer DEFAULT 100) RETURNS SETOF pgmq.message_record
LANGUAGE sql AS $$ SELECT * FROM pgmq.read(queue_name, vt, qty) $$;

CREATE FUNCTION pgmq.pop(queue_name text) RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql AS $$
DECLARE
    q text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    RETURN QUERY EXECUTE format('WITH cte AS (SELECT msg_id FROM pgmq.%I WHERE vt <= clock_timestamp() '
        'ORDER BY msg_id LIMIT 1 FOR UPDATE SKIP LOCKED) '
        'DELETE FROM pgmq.%I m USING cte WHERE m.msg_id = cte.msg_id '
        'RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message, m.headers', q, q);
END
$$;

CREATE FUNCTION pgmq.archive(queue_name text, msg_ids bigint[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format('WITH gone AS (DELETE FROM pgmq.%I WHERE msg_id = ANY($1) RETURNING *) '
        'INSERT INTO pgmq.%I (msg_id, read_ct, enqueued_at, vt, message, headers) '
        'SELECT msg_id, read_ct, enqueued_at, vt, message, headers FROM gone RETURNING msg_id',
        pgmq.format_table_name(queue_name, 'q'), pgmq.format_table_name(queue_name, 'a')) USING msg_ids;
END
$$;

CREATE FUNCTION pgmq.archive(queue_name text, msg_id bigint) RETURNS boolean
LANGUAGE sql AS $$ SELECT EXISTS (SELECT 1 FROM pgmq.archive(queue_name, ARRAY[msg_id])) $$;

CREATE FUNCTION pgmq.delete(queue_name text, msg_ids bigint[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format('DELETE FROM pgmq.%I WHERE msg_id = ANY($1) RETURNING msg_id',
        pgmq.format_table_name(queue_name, 'q')) USING msg_ids;
END
$$;

CREATE FUNCTION pgmq.delete(queue_name text, msg_id bigint) RETURNS boolean
LANGUAGE sql AS $$ SELECT EXISTS (SELECT 1 FROM pgmq.delete(queue_name, ARRAY[msg_id])) $$;

CREATE FUNCTION pgmq.set_vt(queue_name text, msg_id bigint, vt integer) RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format('UPDATE pgmq.%I SET vt = clock_timestamp() + make_interval(secs => $2) '
        'WHERE msg_id = $1 RETURNING msg_id, read_ct, enqueued_at, vt, message, headers',
        pgmq.format_table_name(queue_name, 'q')) USING msg_id, vt;
END
$$;

CREATE FUNCTION pgmq.list_queues() RETURNS SETOF pgmq.queue_record
LANGUAGE sql AS $$ SELECT queue_name, is_partitioned, is_unlogged, created_at FROM pgmq.meta $$;

CREATE FUNCTION pgmq.metrics(queue_name text) RETURNS pgmq.metrics_result
LANGUAGE plpgsql AS $$
DECLARE
    result pgmq.metrics_result;
BEGIN
    EXECUTE format('SELECT %L::text, count(*), extract(epoch FROM now() - max(enqueued_at))::int, '
        'extract(epoch FROM now() - min(enqueued_at))::int, coalesce(max(msg_id), 0), now() FROM pgmq.%I',
        queue_name, pgmq.format_table_name(queue_name, 'q')) INTO result;
    RETURN result;
END
$$;

CREATE FUNCTION pgmq.metrics_all() RETURNS SETOF pgmq.metrics_result
LANGUAGE sql AS $$ SELECT (pgmq.metrics(queue_name)).* FROM pgmq.meta $$;
