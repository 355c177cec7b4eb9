# The two Quick-start commands of the README. Both install what they need first.
.PHONY: demo test test-pg15 test-pg17 setup bench-migrate

setup:
	@./scripts/setup

demo: setup
	cargo run --quiet --bin safemig -- demo

# The whole suite against PostgreSQL 15 (Debian's), then again against
# PostgreSQL 17 (fetched by scripts/setup-pg17): Supabase runs both majors.
test: test-pg15 test-pg17

test-pg15: setup
	cargo test --workspace

# Its bundled libpq must win over Debian's older one (dblink, pg_dump).
test-pg17: setup
	@PG17="$$(./scripts/setup-pg17)" && \
	echo "== the test suite again, against $$("$$PG17/postgres" --version)" && \
	SAFEMIG_PG_BIN="$$PG17" LD_LIBRARY_PATH="$$PG17/../lib" cargo test --workspace

bench-migrate: setup
	./scripts/bench-migrate
