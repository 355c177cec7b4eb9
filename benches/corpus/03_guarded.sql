-- Idempotent changes guarded by catalog tests.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = 'public' AND table_name = 'library_tracks' AND column_name = 'r2_bucket') THEN
        ALTER TABLE public.library_tracks ADD COLUMN r2_bucket text;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'tmp_import') THEN
        DROP TABLE public.tmp_import;
    END IF;
END
$$;
CREATE TABLE IF NOT EXISTS public.playlists (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner uuid NOT NULL REFERENCES public.users (id),
    name varchar(200) NOT NULL,
    created_at timestamp DEFAULT now()
);
CREATE INDEX CONCURRENTLY IF NOT EXISTS playlists_owner_idx ON public.playlists (owner);
