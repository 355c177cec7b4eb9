-- A new Supabase auth user gets its public.users row: the handle_new_user
-- trigger on auth.users works (the seed's "Test user creation trigger").
-- `safemig verify` runs this in a transaction that is always rolled back,
-- so the test user never stays. Copy it to supabase/tests/.
DO $$
DECLARE
  new_id uuid := gen_random_uuid();
BEGIN
  INSERT INTO auth.users (id, email, raw_user_meta_data, created_at)
  VALUES (new_id, 'safemig-verify@example.invalid', '{}'::jsonb, now());
  IF NOT EXISTS (SELECT 1 FROM public.users WHERE id = new_id) THEN
    RAISE EXCEPTION 'inserting into auth.users did not create the public.users row for %: is the on_auth_user_created trigger missing or disabled?', new_id;
  END IF;
END
$$;
