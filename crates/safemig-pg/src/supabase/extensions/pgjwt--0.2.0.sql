-- safemig stand-in for pgjwt (source of truth: michelp/pgjwt). Written for safemig
-- in SQL over pgcrypto's hmac: HS256, HS384 and HS512 tokens sign and verify.
CREATE FUNCTION @extschema@.url_encode(data bytea) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT rtrim(translate(encode(data, 'base64'), E'+/\n', '-_'), '=')
$$;

CREATE FUNCTION @extschema@.url_decode(data text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT decode(translate(data, '-_', '+/') || repeat('=', (4 - length(data) % 4) % 4), 'base64')
$$;

CREATE FUNCTION @extschema@.algorithm_sign(signables text, secret text, algorithm text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path FROM CURRENT AS $$
    SELECT url_encode(hmac(signables, secret,
        CASE algorithm WHEN 'HS256' THEN 'sha256' WHEN 'HS384' THEN 'sha384' WHEN 'HS512' THEN 'sha512' END))
$$;

CREATE FUNCTION @extschema@.sign(payload json, secret text, algorithm text DEFAULT 'HS256') RETURNS text
LANGUAGE sql IMMUTABLE SET search_path FROM CURRENT AS $$
    WITH parts AS (
        SELECT url_encode(convert_to(json_build_object('alg', algorithm, 'typ', 'JWT')::text, 'utf8'))
               || '.' || url_encode(convert_to(payload::text, 'utf8')) AS signables
    )
    SELECT signables || '.' || algorithm_sign(signables, secret, algorithm) FROM parts
$$;

CREATE FUNCTION @extschema@.try_cast_double(inp text) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN inp::double precision;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

CREATE FUNCTION @extschema@.verify(token text, secret text, algorithm text DEFAULT 'HS256')
    RETURNS TABLE (header json, payload json, valid boolean)
LANGUAGE sql IMMUTABLE SET search_path FROM CURRENT AS $$
    SELECT convert_from(url_decode(p[1]), 'utf8')::json,
           convert_from(url_decode(p[2]), 'utf8')::json,
           p[3] = algorithm_sign(p[1] || '.' || p[2], secret, algorithm)
    FROM (SELECT string_to_array(token, '.') AS p) parts
$$;
