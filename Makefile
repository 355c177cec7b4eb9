# The two Quick-start commands of the README. Both install what they need first.
.PHONY: demo test setup bench-migrate

setup:
	@./scripts/setup

demo: setup
	cargo run --quiet --bin safemig -- demo

test: setup
	cargo test --workspace

bench-migrate: setup
	./scripts/bench-migrate
