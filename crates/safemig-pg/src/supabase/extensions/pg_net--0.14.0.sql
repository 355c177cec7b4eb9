-- safemig stand-in for pg_net (source of truth: supabase/pg_net, sql/pg_net.sql).
-- Requests are queued as the real extension queues them; none is ever sent, so
-- no response ever arrives.
CREATE SCHEMA net;
CREATE TYPE net.request_status AS ENUM ('PENDING', 'SUCCESS', 'ERROR');
CREATE TYPE net.http_response AS (status_code integer, headers jsonb, body text);
CREATE TYPE net.http_response_result AS (status net.request_status, message text, response net.http_response);
CREATE DOMAIN net.http_method AS text CHECK (value ILIKE 'get' OR value ILIKE 'post' OR value ILIKE 'delete');

CREATE UNLOGGED TABLE net.http_request_queue (
    id bigserial,
    method net.http_method NOT NULL,
    url text NOT NULL,
    headers jsonb NOT NULL,
    body bytea,
    timeout_milliseconds integer NOT NULL
);

CREATE UNLOGGED TABLE net._http_response (
    id bigint,
    status_code integer,
    content_type text,
    headers jsonb,
    content text,
    timed_out boolean,
    error_msg text,
    created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON net._http_response (created);

CREATE FUNCTION net.http_get(url text, params jsonb DEFAULT '{}'::jsonb, headers jsonb DEFAULT '{}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000) RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO net.http_request_queue (method, url, headers, timeout_milliseconds)
    VALUES ('GET', url, headers, timeout_milliseconds) RETURNING id
$$;

CREATE FUNCTION net.http_post(url text, body jsonb DEFAULT '{}'::jsonb, params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{"Content-Type": "application/json"}'::jsonb, timeout_milliseconds integer DEFAULT 5000)
    RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO net.http_request_queue (method, url, headers, body, timeout_milliseconds)
    VALUES ('POST', url, headers, convert_to(body::text, 'UTF8'), timeout_milliseconds) RETURNING id
$$;

CREATE FUNCTION net.http_delete(url text, params jsonb DEFAULT '{}'::jsonb, headers jsonb DEFAULT '{}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000, body jsonb DEFAULT NULL) RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO net.http_request_queue (method, url, headers, body, timeout_milliseconds)
    VALUES ('DELETE', url, headers, convert_to(body::text, 'UTF8'), timeout_milliseconds) RETURNING id
$$;

CREATE FUNCTION net.http_collect_response(request_id bigint, async boolean DEFAULT true)
    RETURNS net.http_response_result
LANGUAGE sql AS $$
    SELECT ROW('PENDING', 'request is pending (safemig stand-in: nothing is sent)', NULL)::net.http_response_result
$$;

CREATE FUNCTION net._await_response(request_id bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pg_net is a safemig stand-in here: no request is sent, so no response arrives';
END
$$;

CREATE FUNCTION net.check_worker_is_up() RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION net.wake() RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION net.worker_restart() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;

GRANT USAGE ON SCHEMA net TO public;
GRANT ALL ON ALL TABLES IN SCHEMA net TO public;
GRANT ALL ON ALL SEQUENCES IN SCHEMA net TO public;
