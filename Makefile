# million: the commands a newcomer needs. `make help` lists them.

CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
RELEASE_BIN := $(TARGET_DIR)/release/million
SEED_USERS ?= 100000
SEED_ARTICLES ?= 200000

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the commands
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## Install the system packages the app needs (PostgreSQL)
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs, then retry"; exit 1; }
	@scripts/ensure-packages postgresql

.PHONY: test-deps
test-deps: deps ## Install the system packages the tests need (adds Chromium and chromedriver)
	@scripts/ensure-packages chromium chromium-driver

.PHONY: build
build: deps ## Build the release binary
	$(CARGO) build --release

.PHONY: run
run: build ## Run the site on http://127.0.0.1:8000 (own PostgreSQL in .million/, demo data on first run)
	$(RELEASE_BIN) serve --demo

.PHONY: test
test: test-deps ## Run every test: unit, integration (real PostgreSQL), browser (real Chromium)
	$(CARGO) test

.PHONY: seed
seed: build ## Load SEED_USERS users and SEED_ARTICLES articles (default 100k / 200k)
	$(RELEASE_BIN) seed --users $(SEED_USERS) --articles $(SEED_ARTICLES)

.PHONY: migrate
migrate: build ## Apply pending database migrations
	$(RELEASE_BIN) migrate

.PHONY: config
config: build ## Print the effective configuration (secrets masked)
	$(RELEASE_BIN) config

.PHONY: lint
lint: ## Check formatting and lints
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --all-features -- -D warnings

.PHONY: clean
clean: ## Remove build output and the local database in .million/
	$(CARGO) clean
	rm -rf .million
