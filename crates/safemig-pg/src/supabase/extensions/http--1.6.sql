-- safemig stand-in for http (source of truth: pramsey/pgsql-http, http--*.sql).
-- Its types and functions exist, so migrations that define wrappers replay;
-- every call fails: a throwaway database sends no request.
CREATE DOMAIN @extschema@.http_method AS text;
CREATE DOMAIN @extschema@.content_type AS text CHECK (value ~ '^\S+\/\S+');
CREATE TYPE @extschema@.http_header AS (field varchar, value varchar);
CREATE TYPE @extschema@.http_request AS (method @extschema@.http_method, uri varchar,
    headers @extschema@.http_header[], content_type varchar, content varchar);
CREATE TYPE @extschema@.http_response AS (status integer, content_type varchar,
    headers @extschema@.http_header[], content varchar);

CREATE FUNCTION @extschema@.http_header(field varchar, value varchar) RETURNS @extschema@.http_header
LANGUAGE sql IMMUTABLE AS $$ SELECT ROW(field, value)::@extschema@.http_header $$;

CREATE FUNCTION @extschema@.http(request @extschema@.http_request) RETURNS @extschema@.http_response
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'http is a safemig stand-in here: a throwaway database sends no request (%)', request.uri;
END
$$;

CREATE FUNCTION @extschema@.http_get(uri varchar) RETURNS @extschema@.http_response
LANGUAGE sql AS $$ SELECT @extschema@.http(ROW('GET', uri, NULL, NULL, NULL)::@extschema@.http_request) $$;
CREATE FUNCTION @extschema@.http_get(uri varchar, data jsonb) RETURNS @extschema@.http_response
LANGUAGE sql AS $$ SELECT @extschema@.http(ROW('GET', uri, NULL, NULL, NULL)::@extschema@.http_request) $$;
CREATE FUNCTION @extschema@.http_post(uri varchar, content varchar, content_type varchar) RETURNS @extschema@.http_response
LANGUAGE sql AS $$ SELECT @extschema@.http(ROW('POST', uri, NULL, content_type, content)::@extschema@.http_request) $$;
CREATE FUNCTION @extschema@.http_post(uri varchar, data jsonb) RETURNS @extschema@.http_response
LANGUAGE sql AS $$ SELECT @extschema@.http(ROW('POST', uri, NULL, 'application/json', data::text)::@extschema@.http_request) $$;
CREATE FUNCTION @extschema@.http_put(uri varchar, content varchar, content_type varchar) RETURNS @extschema@.http_response
LANGUAGE sql AS $$ SELECT @extschema@.http(ROW('PUT', uri, NULL, content_type, content)::@extschema@.http_request) $$;
CREATE FUNCTION @extschema@.http_patch(uri varchar, content varchar, content_type varchar) RETURNS @extschema@.http_response
LANGUAGE sql AS $$ SELECT @extschema@.http(ROW('PATCH', uri, NULL, content_type, content)::@extschema@.http_request) $$;
CREATE FUNCTION @extschema@.http_delete(uri varchar) RETURNS @extschema@.http_response
LANGUAGE sql AS $$ SELECT @extschema@.http(ROW('DELETE', uri, NULL, NULL, NULL)::@extschema@.http_request) $$;
CREATE FUNCTION @extschema@.http_head(uri varchar) RETURNS @extschema@.http_response
LANGUAGE sql AS $$ SELECT @extschema@.http(ROW('HEAD', uri, NULL, NULL, NULL)::@extschema@.http_request) $$;
CREATE FUNCTION @extschema@.urlencode(string varchar) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(CASE WHEN c ~ '[A-Za-z0-9_.~-]' THEN c
                           ELSE upper(regexp_replace(encode(convert_to(c, 'utf8'), 'hex'), '(..)', '%\1', 'g')) END, '')
    FROM regexp_split_to_table(string, '') AS c
$$;
CREATE FUNCTION @extschema@.urlencode(data jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(@extschema@.urlencode(key) || '=' || @extschema@.urlencode(value), '&')
    FROM jsonb_each_text(data)
$$;
CREATE FUNCTION @extschema@.http_set_curlopt(curlopt varchar, value varchar) RETURNS boolean
LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION @extschema@.http_reset_curlopt() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
