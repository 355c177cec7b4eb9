-- A pulled remote_schema.sql: the kind of file that loses data.
SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);
ALTER TABLE ONLY public.library_tracks ALTER COLUMN duration_seconds TYPE numeric;
ALTER TABLE public.library_tracks DROP COLUMN IF EXISTS r2_key;
ALTER TABLE public.library_tracks ADD COLUMN bpm integer NOT NULL;
ALTER TABLE public.library_tracks ADD CONSTRAINT library_tracks_title_key UNIQUE (title);
ALTER TABLE public.users ADD CONSTRAINT users_email_check CHECK (email LIKE '%@%');
CREATE INDEX users_email_idx ON public.users (email);
DROP TABLE IF EXISTS public.old_cache;
GRANT ALL ON TABLE public.library_tracks TO anon;
GRANT ALL ON TABLE public.library_tracks TO authenticated;
GRANT ALL ON TABLE public.library_tracks TO service_role;
