# The project's commands. `make help` lists them.

CARGO ?= cargo
# Tests find PostgreSQL here; each test creates a schema of its own in it.
export OMS_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: help build test bench fmt lint run simulate verify check-deploy check-tools

help:
	@echo "make build   compile everything"
	@echo "make test    run every test (needs PostgreSQL on 127.0.0.1:5432 and the tansu broker; see README)"
	@echo "make bench   run the benchmarks; each prints its figures and RESULT lines"
	@echo "make fmt     format the code"
	@echo "make lint    rustfmt check and clippy with warnings as errors"
	@echo "make run     run the whole system on the embedded default, with sample data"
	@echo "make simulate  simulate an omnichannel day against the running system (another terminal)"
	@echo "make verify  replay every service's log and compare (with the system stopped)"

build:
	$(CARGO) build --workspace --all-targets

test: check-tools check-deploy
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

bench:
	$(CARGO) bench -p oms-eventsourcing --bench eventlog
	$(CARGO) bench -p oms-transport --bench transport
	$(CARGO) bench -p oms-inventory-ledger --bench inventory
	$(CARGO) bench -p oms-order-capture --bench orders
	$(CARGO) bench -p oms-routing --bench routing
	$(CARGO) bench -p oms-cli --bench e2e

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

run:
	$(CARGO) run -p oms-cli --bin oms -- run --sample

simulate:
	$(CARGO) run -p oms-cli --bin oms -- simulate

verify:
	$(CARGO) run -p oms-cli --bin oms -- verify

check-deploy:
	@python3 deploy/check.py

check-tools:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not answering on 127.0.0.1:5432: start it (see README, 'Running the tests')." >&2; exit 1; }
	@command -v tansu >/dev/null || { echo "The tansu broker is not installed: cargo install --locked tansu --version 0.6.0 --features dynostore" >&2; exit 1; }
