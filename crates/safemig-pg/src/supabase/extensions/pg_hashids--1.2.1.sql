-- safemig stand-in for pg_hashids (source of truth: iCyberon/pg_hashids). Written
-- for safemig: id_encode and id_decode exist with every overload and are each
-- other's inverse, but the ids are hexadecimal, not Hashids (salt and alphabet
-- are ignored; min_length pads).
CREATE FUNCTION @extschema@.id_encode(numbers bigint[], salt text, min_length integer, alphabet text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT lpad(string_agg(to_hex(n), '-' ORDER BY i), min_length, '0')
    FROM unnest(numbers) WITH ORDINALITY AS x(n, i)
$$;
CREATE FUNCTION @extschema@.id_encode(numbers bigint[], salt text, min_length integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT @extschema@.id_encode(numbers, salt, min_length, '') $$;
CREATE FUNCTION @extschema@.id_encode(numbers bigint[], salt text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT @extschema@.id_encode(numbers, salt, 0, '') $$;
CREATE FUNCTION @extschema@.id_encode(numbers bigint[]) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT @extschema@.id_encode(numbers, '', 0, '') $$;
CREATE FUNCTION @extschema@.id_encode(number bigint, salt text, min_length integer, alphabet text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT @extschema@.id_encode(ARRAY[number], salt, min_length, alphabet) $$;
CREATE FUNCTION @extschema@.id_encode(number bigint, salt text, min_length integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT @extschema@.id_encode(ARRAY[number], salt, min_length, '') $$;
CREATE FUNCTION @extschema@.id_encode(number bigint, salt text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT @extschema@.id_encode(ARRAY[number], salt, 0, '') $$;
CREATE FUNCTION @extschema@.id_encode(number bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT @extschema@.id_encode(ARRAY[number], '', 0, '') $$;
CREATE FUNCTION @extschema@.id_decode(id text, salt text, min_length integer, alphabet text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT array_agg(('x' || lpad(ltrim(part, '0'), 16, '0'))::bit(64)::bigint ORDER BY i)
    FROM unnest(string_to_array(id, '-')) WITH ORDINALITY AS x(part, i)
$$;
CREATE FUNCTION @extschema@.id_decode(id text, salt text, min_length integer) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT @extschema@.id_decode(id, salt, min_length, '') $$;
CREATE FUNCTION @extschema@.id_decode(id text, salt text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT @extschema@.id_decode(id, salt, 0, '') $$;
CREATE FUNCTION @extschema@.id_decode(id text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT @extschema@.id_decode(id, '', 0, '') $$;
CREATE FUNCTION @extschema@.id_decode_once(id text, salt text, min_length integer, alphabet text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (@extschema@.id_decode(id, salt, min_length, alphabet))[1] $$;
CREATE FUNCTION @extschema@.id_decode_once(id text, salt text, min_length integer) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (@extschema@.id_decode(id, salt, min_length, ''))[1] $$;
CREATE FUNCTION @extschema@.id_decode_once(id text, salt text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (@extschema@.id_decode(id, salt, 0, ''))[1] $$;
CREATE FUNCTION @extschema@.id_decode_once(id text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (@extschema@.id_decode(id, '', 0, ''))[1] $$;
