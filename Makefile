# The project's commands. `make help` lists them.

CARGO ?= cargo
# Tests find PostgreSQL here; each test creates a schema of its own in it.
export OMS_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: help build test bench fmt lint deny run simulate verify token check-deploy check-tools

help:
	@echo "make build   compile everything"
	@echo "make test    run every test (needs PostgreSQL on 127.0.0.1:5432 and the tansu broker; see README)"
	@echo "make bench   run the benchmarks; each prints its figures and RESULT lines"
	@echo "make fmt     format the code"
	@echo "make lint    rustfmt check, and clippy with the workspace's lints as errors"
	@echo "make deny    the dependencies' licences, bans and sources (cargo deny, deploy/deny.toml)"
	@echo "make run     run the whole system on the embedded default, with sample data"
	@echo "make simulate  simulate an omnichannel day against the running system (another terminal)"
	@echo "make verify  replay every service's log and compare (with the system stopped)"
	@echo "make token   print a bearer token for the running system (ROLE=operator; ARGS=\"--store X\")"

# One build serves `make run`, `make simulate`, `make test` and the end-to-end tests: the
# whole workspace with its tests, so every crate is compiled once, with one set of
# features. (`cargo run -p oms-cli` would select other features and compile most of the
# workspace again.)
WORKSPACE_BUILD = $(CARGO) build --workspace --bins --tests
OMS = $(or $(CARGO_TARGET_DIR),target)/debug/oms

build:
	$(WORKSPACE_BUILD)

test: check-tools check-deploy
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

# Every benchmark from one optimised build of the workspace, run one after the other.
bench:
	$(CARGO) bench --workspace --bench eventlog --bench transport --bench inventory \
		--bench orders --bench routing --bench e2e

fmt:
	$(CARGO) fmt --all

# The workspace's lints (Cargo.toml) everywhere; and outside tests and benchmarks nothing
# unwraps: bad input is an error, never a panic.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --workspace --lib --bins -- -D warnings -D clippy::unwrap_used

# Licences, banned crates and sources of every dependency. Advisories need the RustSec
# database from GitHub: `cargo deny --config deploy/deny.toml check advisories` where it
# can be fetched.
deny:
	@command -v cargo-deny >/dev/null || { echo "cargo deny is not installed: cargo install --locked cargo-deny" >&2; exit 1; }
	$(CARGO) deny --config deploy/deny.toml check licenses bans sources

run:
	$(WORKSPACE_BUILD)
	$(OMS) run --sample

simulate:
	$(WORKSPACE_BUILD)
	$(OMS) simulate

verify:
	$(WORKSPACE_BUILD)
	$(OMS) verify

# A token signed with the key `make run` keeps in data/auth.
token:
	@$(WORKSPACE_BUILD) --quiet
	@$(OMS) token issue --role $(or $(ROLE),operator) $(ARGS)

check-deploy:
	@python3 deploy/check.py

check-tools:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not answering on 127.0.0.1:5432: start it (see README, 'Running the tests')." >&2; exit 1; }
	@command -v tansu >/dev/null || { echo "The tansu broker is not installed: cargo install --locked tansu --version 0.6.0 --features dynostore" >&2; exit 1; }
