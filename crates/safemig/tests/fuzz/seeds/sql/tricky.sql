-- safemig:ignore drop-table fixture
BEGIN;
CREATE FUNCTION public.f() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE 'DROP TABLE ' || quote_ident(TG_ARGV[0]);
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'x') THEN
    DELETE FROM public.x;
  END IF;
  RETURN NEW;
END $fn$;
CREATE TRIGGER tr AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f('t');
DO $$ BEGIN TRUNCATE public.t CASCADE; END $$;
CREATE INDEX CONCURRENTLY i ON public.t (a);
ALTER TABLE "My Schema"."Tä""ble" ALTER COLUMN c TYPE bigint USING c::bigint;
COPY public.t FROM stdin;
1	a
\.
\connect other
COMMIT;
