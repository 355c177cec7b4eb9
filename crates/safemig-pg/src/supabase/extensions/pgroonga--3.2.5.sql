-- safemig stand-in for PGroonga (source of truth: pgroonga/pgroonga, data/pgroonga.sql).
-- Written for safemig: the `pgroonga` index method (hash's handler underneath: it
-- builds, takes no options, speeds nothing up), its default operator classes,
-- and the search operators as plain case-insensitive substring matches (every
-- word of the query, words after `-` excluded, `OR` not understood).
CREATE FUNCTION @extschema@.pgroonga_stand_in_match(target text, query text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(bool_and(CASE WHEN w LIKE '-%' THEN position(lower(substr(w, 2)) IN lower(target)) = 0
                                  ELSE position(lower(rtrim(w, '*')) IN lower(target)) > 0 END), true)
    FROM regexp_split_to_table(btrim(query), '\s+') AS w
    WHERE w <> '' AND upper(w) <> 'OR'
$$;
CREATE FUNCTION @extschema@.pgroonga_stand_in_match(targets text[], query text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(bool_or(@extschema@.pgroonga_stand_in_match(t, query)), false) FROM unnest(targets) AS t
$$;
CREATE FUNCTION @extschema@.pgroonga_stand_in_prefix(target text, prefix text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT lower(target) LIKE lower(prefix) || '%' $$;
CREATE FUNCTION @extschema@.pgroonga_stand_in_regexp(target text, pattern text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT target ~ pattern $$;

CREATE OPERATOR @extschema@.&@ (LEFTARG = text, RIGHTARG = text, FUNCTION = @extschema@.pgroonga_stand_in_match);
CREATE OPERATOR @extschema@.&@~ (LEFTARG = text, RIGHTARG = text, FUNCTION = @extschema@.pgroonga_stand_in_match);
CREATE OPERATOR @extschema@.&@* (LEFTARG = text, RIGHTARG = text, FUNCTION = @extschema@.pgroonga_stand_in_match);
CREATE OPERATOR @extschema@.&@ (LEFTARG = text[], RIGHTARG = text, FUNCTION = @extschema@.pgroonga_stand_in_match);
CREATE OPERATOR @extschema@.&@~ (LEFTARG = text[], RIGHTARG = text, FUNCTION = @extschema@.pgroonga_stand_in_match);
CREATE OPERATOR @extschema@.&^ (LEFTARG = text, RIGHTARG = text, FUNCTION = @extschema@.pgroonga_stand_in_prefix);
CREATE OPERATOR @extschema@.&~ (LEFTARG = text, RIGHTARG = text, FUNCTION = @extschema@.pgroonga_stand_in_regexp);

CREATE FUNCTION @extschema@.pgroonga_score(tableoid oid, ctid tid) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$ SELECT 0::double precision $$;
CREATE FUNCTION @extschema@.pgroonga_score(row_value record) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN 0; END $$;
CREATE FUNCTION @extschema@.pgroonga_highlight_html(target text, keywords text[]) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT target $$;
CREATE FUNCTION @extschema@.pgroonga_snippet_html(target text, keywords text[], width integer DEFAULT 200)
    RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ARRAY[left(target, width)] $$;
CREATE FUNCTION @extschema@.pgroonga_query_extract_keywords(query text, index_name text DEFAULT '') RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(array_agg(w), '{}') FROM regexp_split_to_table(btrim(query), '\s+') AS w
    WHERE w <> '' AND upper(w) <> 'OR' AND w NOT LIKE '-%'
$$;
CREATE FUNCTION @extschema@.pgroonga_normalize(target text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT lower(target) $$;
CREATE FUNCTION @extschema@.pgroonga_escape(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT regexp_replace(value, '([\\"()])', '\\\1', 'g') $$;

CREATE FUNCTION @extschema@.pgroonga_handler(internal) RETURNS index_am_handler
    LANGUAGE internal AS 'hashhandler';
CREATE ACCESS METHOD pgroonga TYPE INDEX HANDLER @extschema@.pgroonga_handler;
CREATE OPERATOR CLASS @extschema@.pgroonga_text_full_text_search_ops_v2 DEFAULT FOR TYPE text USING pgroonga AS
    OPERATOR 1 pg_catalog.= (text, text), FUNCTION 1 pg_catalog.hashtext(text);
CREATE OPERATOR CLASS @extschema@.pgroonga_text_term_search_ops_v2 FOR TYPE text USING pgroonga AS
    OPERATOR 1 pg_catalog.= (text, text), FUNCTION 1 pg_catalog.hashtext(text);
CREATE OPERATOR CLASS @extschema@.pgroonga_text_regexp_ops_v2 FOR TYPE text USING pgroonga AS
    OPERATOR 1 pg_catalog.= (text, text), FUNCTION 1 pg_catalog.hashtext(text);
