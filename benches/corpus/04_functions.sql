-- PL/pgSQL and SQL functions, a view, a backfill.
CREATE OR REPLACE FUNCTION public.track_count(p_artist text)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM public.library_tracks WHERE artist = p_artist;
$$;

CREATE OR REPLACE FUNCTION public.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    started timestamptz := clock_timestamp(); -- a ; in a comment
BEGIN
    NEW.updated_at := now();
    IF TG_OP = 'UPDATE' AND NEW IS DISTINCT FROM OLD THEN
        PERFORM pg_notify('tracks', NEW.id::text);
    END IF;
    RETURN NEW;
END;
$fn$;

CREATE OR REPLACE VIEW public.artist_stats AS
WITH per_artist AS (
    SELECT artist, count(*) AS tracks, sum(duration_seconds) AS seconds
    FROM public.library_tracks GROUP BY artist
)
SELECT artist, tracks, seconds, seconds / nullif(tracks, 0) AS average FROM per_artist;

UPDATE public.library_tracks SET title = trim(title) WHERE title <> trim(title);
DELETE FROM public.users WHERE email IS NULL AND created_at < now() - interval '2 years';
COMMENT ON VIEW public.artist_stats IS 'Per-artist totals; it''s refreshed on read';
