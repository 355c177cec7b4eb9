-- safemig stand-in for index_advisor (source of truth: supabase/index_advisor).
-- The function exists and advises nothing.
CREATE FUNCTION @extschema@.index_advisor(query text)
    RETURNS TABLE (startup_cost_before jsonb, startup_cost_after jsonb, total_cost_before jsonb,
                   total_cost_after jsonb, index_statements text[], errors text[])
LANGUAGE sql AS $$
    SELECT NULL::jsonb, NULL::jsonb, NULL::jsonb, NULL::jsonb, ARRAY[]::text[],
           ARRAY['index_advisor is a safemig stand-in here']::text[]
$$;
