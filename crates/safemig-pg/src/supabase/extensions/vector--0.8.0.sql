-- safemig stand-in for pgvector (source of truth: pgvector/pgvector, sql/vector.sql).
-- The vector type (vector(n) keeps n), its casts, distance functions and
-- operators, and the hnsw and ivfflat index methods, so tables, functions and
-- indexes that use them replay. Stored as the text PostgreSQL reads ('[1,2,3]');
-- distances are computed in SQL. The hnsw and ivfflat indexes are hash indexes
-- underneath: they accept no options (WITH (m = 16) fails here) and speed
-- nothing up. Equality and order compare the text, not the numbers.
CREATE TYPE @extschema@.vector;
-- Internal text functions: the value is kept exactly as text would be.
CREATE FUNCTION @extschema@.vector_in(cstring, oid, integer) RETURNS @extschema@.vector
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textin';
CREATE FUNCTION @extschema@.vector_out(@extschema@.vector) RETURNS cstring
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textout';
CREATE FUNCTION @extschema@.vector_recv(internal, oid, integer) RETURNS @extschema@.vector
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textrecv';
CREATE FUNCTION @extschema@.vector_send(@extschema@.vector) RETURNS bytea
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textsend';
-- varchar's: vector(1536) is kept and shown as such.
CREATE FUNCTION @extschema@.vector_typmod_in(cstring[]) RETURNS integer
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'varchartypmodin';
CREATE FUNCTION @extschema@.vector_typmod_out(integer) RETURNS cstring
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'varchartypmodout';
CREATE TYPE @extschema@.vector (
    INPUT = @extschema@.vector_in,
    OUTPUT = @extschema@.vector_out,
    RECEIVE = @extschema@.vector_recv,
    SEND = @extschema@.vector_send,
    TYPMOD_IN = @extschema@.vector_typmod_in,
    TYPMOD_OUT = @extschema@.vector_typmod_out,
    INTERNALLENGTH = VARIABLE,
    STORAGE = external
);

CREATE FUNCTION @extschema@.vector_to_float4(@extschema@.vector, integer, boolean) RETURNS real[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ('{' || btrim(textin(@extschema@.vector_out($1)), '[] ') || '}')::real[] $$;
CREATE FUNCTION @extschema@.vector_dims(@extschema@.vector) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT coalesce(array_length(@extschema@.vector_to_float4($1, -1, false), 1), 0) $$;
-- The length coercion: a value must have the column's dimensions (typmod is n + 4, as varchar's).
CREATE FUNCTION @extschema@.vector(@extschema@.vector, integer, boolean) RETURNS @extschema@.vector
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF $2 >= 4 AND @extschema@.vector_dims($1) <> $2 - 4 THEN
        RAISE EXCEPTION 'expected % dimensions, not %', $2 - 4, @extschema@.vector_dims($1)
            USING ERRCODE = '22000';
    END IF;
    RETURN $1;
END
$$;
CREATE FUNCTION @extschema@.array_to_vector(real[], integer, boolean) RETURNS @extschema@.vector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT @extschema@.vector_in(textout('[' || array_to_string($1, ',') || ']'), 0, $2) $$;
CREATE FUNCTION @extschema@.array_to_vector(double precision[], integer, boolean) RETURNS @extschema@.vector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT @extschema@.array_to_vector($1::real[], $2, $3) $$;
CREATE FUNCTION @extschema@.array_to_vector(integer[], integer, boolean) RETURNS @extschema@.vector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT @extschema@.array_to_vector($1::real[], $2, $3) $$;
CREATE FUNCTION @extschema@.array_to_vector(numeric[], integer, boolean) RETURNS @extschema@.vector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT @extschema@.array_to_vector($1::real[], $2, $3) $$;
CREATE CAST (@extschema@.vector AS @extschema@.vector)
    WITH FUNCTION @extschema@.vector(@extschema@.vector, integer, boolean) AS IMPLICIT;
CREATE CAST (@extschema@.vector AS real[])
    WITH FUNCTION @extschema@.vector_to_float4(@extschema@.vector, integer, boolean) AS IMPLICIT;
CREATE CAST (real[] AS @extschema@.vector)
    WITH FUNCTION @extschema@.array_to_vector(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS @extschema@.vector)
    WITH FUNCTION @extschema@.array_to_vector(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS @extschema@.vector)
    WITH FUNCTION @extschema@.array_to_vector(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS @extschema@.vector)
    WITH FUNCTION @extschema@.array_to_vector(numeric[], integer, boolean) AS ASSIGNMENT;

-- Distances, computed over the two arrays of components.
CREATE FUNCTION @extschema@.l2_distance(@extschema@.vector, @extschema@.vector) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sqrt(sum((x - y) ^ 2)) FROM unnest(@extschema@.vector_to_float4($1, -1, false),
                                             @extschema@.vector_to_float4($2, -1, false)) AS t(x, y) $$;
CREATE FUNCTION @extschema@.inner_product(@extschema@.vector, @extschema@.vector) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sum(x::float8 * y) FROM unnest(@extschema@.vector_to_float4($1, -1, false),
                                         @extschema@.vector_to_float4($2, -1, false)) AS t(x, y) $$;
CREATE FUNCTION @extschema@.vector_negative_inner_product(@extschema@.vector, @extschema@.vector)
    RETURNS double precision LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT - @extschema@.inner_product($1, $2) $$;
CREATE FUNCTION @extschema@.cosine_distance(@extschema@.vector, @extschema@.vector) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT 1 - sum(x::float8 * y) / nullif(sqrt(sum(x::float8 * x)) * sqrt(sum(y::float8 * y)), 0)
    FROM unnest(@extschema@.vector_to_float4($1, -1, false), @extschema@.vector_to_float4($2, -1, false)) AS t(x, y) $$;
CREATE FUNCTION @extschema@.l1_distance(@extschema@.vector, @extschema@.vector) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sum(abs(x::float8 - y)) FROM unnest(@extschema@.vector_to_float4($1, -1, false),
                                              @extschema@.vector_to_float4($2, -1, false)) AS t(x, y) $$;
CREATE FUNCTION @extschema@.vector_norm(@extschema@.vector) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sqrt(sum(x::float8 * x)) FROM unnest(@extschema@.vector_to_float4($1, -1, false)) AS t(x) $$;
CREATE FUNCTION @extschema@.l2_normalize(@extschema@.vector) RETURNS @extschema@.vector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT @extschema@.array_to_vector(array_agg(x / nullif(@extschema@.vector_norm($1), 0) ORDER BY n), -1, false)
    FROM unnest(@extschema@.vector_to_float4($1, -1, false)) WITH ORDINALITY AS t(x, n) $$;

CREATE OPERATOR @extschema@.<-> (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
    FUNCTION = @extschema@.l2_distance, COMMUTATOR = OPERATOR(@extschema@.<->));
CREATE OPERATOR @extschema@.<#> (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
    FUNCTION = @extschema@.vector_negative_inner_product, COMMUTATOR = OPERATOR(@extschema@.<#>));
CREATE OPERATOR @extschema@.<=> (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
    FUNCTION = @extschema@.cosine_distance, COMMUTATOR = OPERATOR(@extschema@.<=>));
CREATE OPERATOR @extschema@.<+> (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
    FUNCTION = @extschema@.l1_distance, COMMUTATOR = OPERATOR(@extschema@.<+>));

-- Equality and order of the stored text (bytea's internal functions read any varlena).
CREATE FUNCTION @extschema@.vector_cmp(@extschema@.vector, @extschema@.vector) RETURNS integer
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'byteacmp';
CREATE FUNCTION @extschema@.vector_eq(@extschema@.vector, @extschema@.vector) RETURNS boolean
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'byteaeq';
CREATE FUNCTION @extschema@.vector_ne(@extschema@.vector, @extschema@.vector) RETURNS boolean
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'byteane';
CREATE FUNCTION @extschema@.vector_lt(@extschema@.vector, @extschema@.vector) RETURNS boolean
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'bytealt';
CREATE FUNCTION @extschema@.vector_le(@extschema@.vector, @extschema@.vector) RETURNS boolean
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'byteale';
CREATE FUNCTION @extschema@.vector_gt(@extschema@.vector, @extschema@.vector) RETURNS boolean
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'byteagt';
CREATE FUNCTION @extschema@.vector_ge(@extschema@.vector, @extschema@.vector) RETURNS boolean
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'byteage';
CREATE OPERATOR @extschema@.= (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
    FUNCTION = @extschema@.vector_eq, COMMUTATOR = OPERATOR(@extschema@.=), NEGATOR = OPERATOR(@extschema@.<>));
CREATE OPERATOR @extschema@.<> (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
    FUNCTION = @extschema@.vector_ne, COMMUTATOR = OPERATOR(@extschema@.<>), NEGATOR = OPERATOR(@extschema@.=));
CREATE OPERATOR @extschema@.< (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
    FUNCTION = @extschema@.vector_lt);
CREATE OPERATOR @extschema@.<= (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
    FUNCTION = @extschema@.vector_le);
CREATE OPERATOR @extschema@.> (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
    FUNCTION = @extschema@.vector_gt);
CREATE OPERATOR @extschema@.>= (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
    FUNCTION = @extschema@.vector_ge);
CREATE OPERATOR CLASS @extschema@.vector_ops DEFAULT FOR TYPE @extschema@.vector USING btree AS
    OPERATOR 1 @extschema@.<, OPERATOR 2 @extschema@.<=, OPERATOR 3 @extschema@.=,
    OPERATOR 4 @extschema@.>=, OPERATOR 5 @extschema@.>,
    FUNCTION 1 @extschema@.vector_cmp(@extschema@.vector, @extschema@.vector);

-- The index methods, with hash's handler (b-tree's insists on being b-tree):
-- CREATE INDEX ... USING hnsw (embedding vector_cosine_ops) builds; no option is
-- accepted, no distance search is sped up.
CREATE FUNCTION @extschema@.vector_hash(@extschema@.vector) RETURNS integer
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'hashvarlena';
CREATE FUNCTION @extschema@.hnswhandler(internal) RETURNS index_am_handler
    LANGUAGE internal AS 'hashhandler';
CREATE FUNCTION @extschema@.ivfflathandler(internal) RETURNS index_am_handler
    LANGUAGE internal AS 'hashhandler';
CREATE ACCESS METHOD hnsw TYPE INDEX HANDLER @extschema@.hnswhandler;
CREATE ACCESS METHOD ivfflat TYPE INDEX HANDLER @extschema@.ivfflathandler;
CREATE OPERATOR CLASS @extschema@.vector_l2_ops FOR TYPE @extschema@.vector USING hnsw AS
    OPERATOR 1 @extschema@.=, FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_ip_ops FOR TYPE @extschema@.vector USING hnsw AS
    OPERATOR 1 @extschema@.=, FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_cosine_ops FOR TYPE @extschema@.vector USING hnsw AS
    OPERATOR 1 @extschema@.=, FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_l1_ops FOR TYPE @extschema@.vector USING hnsw AS
    OPERATOR 1 @extschema@.=, FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_l2_ops DEFAULT FOR TYPE @extschema@.vector USING ivfflat AS
    OPERATOR 1 @extschema@.=, FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_ip_ops FOR TYPE @extschema@.vector USING ivfflat AS
    OPERATOR 1 @extschema@.=, FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_cosine_ops FOR TYPE @extschema@.vector USING ivfflat AS
    OPERATOR 1 @extschema@.=, FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
