-- A Supabase baseline: users, tracks, the new-user trigger function.
CREATE TABLE public.users (
    id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    email text,
    full_name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY "users read their own row" ON public.users FOR SELECT USING (auth.uid() = id);

CREATE TABLE public.library_tracks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL,
    artist text NOT NULL,
    duration_seconds integer NOT NULL,
    r2_key text,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.library_tracks ENABLE ROW LEVEL SECURITY;
CREATE INDEX library_tracks_artist_idx ON public.library_tracks (artist);

CREATE OR REPLACE FUNCTION public.handle_new_user()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    INSERT INTO public.users (id, email, full_name)
    VALUES (NEW.id, NEW.email, NEW.raw_user_meta_data ->> 'full_name');
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS on_auth_user_created ON auth.users;
CREATE TRIGGER on_auth_user_created
    AFTER INSERT ON auth.users
    FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
