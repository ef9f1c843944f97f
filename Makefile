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
test-deps: deps node_modules/.package-lock.json ## Install what the tests need (Chromium, chromedriver, nginx, HAProxy, Redis, iproute2 and nftables, and as root Podman; axe-core from npm; schemathesis from PyPI)
	@scripts/ensure-packages chromium chromium-driver nginx haproxy redis-server iproute2 nftables
	@scripts/ensure-sweep-tool
	@# As root the phase 7 test runs containers: Podman must be set up.
	@if [ "$$(id -u)" -eq 0 ]; then scripts/ensure-containers >/dev/null; fi

# axe-core, the accessibility checker the browser test runs in every page,
# pinned in package.json and package-lock.json. Installed again only when
# those change; Node.js and npm come from the distribution if missing.
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || scripts/ensure-packages nodejs npm
	npm ci --no-audit --no-fund

.PHONY: build
build: deps ## Build the release binary
	$(CARGO) build --release

.PHONY: run
run: build ## Run the site on http://127.0.0.1:8000 (own PostgreSQL in .million/, demo data on first run)
	$(RELEASE_BIN) serve --demo

.PHONY: test
test: test-deps ## Run every test, in the default build and with every tier built in
	$(CARGO) test
	$(CARGO) test --all-features

.PHONY: test-containers
test-containers: test-deps ## The container side: the images, the API tests against the PostgreSQL image through testcontainers, the Compose topology, the deploy files' validators
	$(CARGO) build --all-features
	BINARY=$(TARGET_DIR)/debug/million scripts/build-images
	scripts/with-docker-api env MILLION_TEST_BACKEND=docker $(CARGO) test --all-features --test api api_
	scripts/compose-check
	scripts/check-deploy-files

.PHONY: seed
seed: build ## Load SEED_USERS users and SEED_ARTICLES articles (default 100k / 200k)
	$(RELEASE_BIN) seed --users $(SEED_USERS) --articles $(SEED_ARTICLES)

.PHONY: migrate
migrate: build ## Apply pending database migrations
	$(RELEASE_BIN) migrate

.PHONY: config
config: build ## Print the effective configuration (secrets masked)
	$(RELEASE_BIN) config

# --- The phases: each architecture stood up on this machine ------------------

TIERS_TARGET := $(TARGET_DIR)/tiers
TIERS_BIN := $(TIERS_TARGET)/release/million
DETACH_FLAG := $(if $(DETACH),--detach,)
SESSIONS_FLAG := $(if $(SESSIONS),--sessions $(SESSIONS),)
APPS_FLAG := $(if $(APPS),--apps $(APPS),)
PG_MEMORY_FLAG := $(if $(PG_MEMORY),--pg-memory $(PG_MEMORY),)
N ?= 2
# Any built binary can manage a running stack: the newest one, which knows
# every command.
CONTROL_BIN = $(or $(firstword $(shell ls -t $(RELEASE_BIN) $(TIERS_BIN) 2>/dev/null)),$(RELEASE_BIN))

.PHONY: phase-deps
phase-deps: deps ## Install nginx, HAProxy, Redis and wrk for the phases
	@scripts/ensure-packages nginx haproxy redis-server wrk iproute2 nftables

.PHONY: build-tiers
build-tiers: deps ## Build the binary with every tier (stateless-sessions, cache, replicas) for phases 3+
	$(CARGO) build --release --features stateless-sessions,cache,replicas --target-dir $(TIERS_TARGET)

.PHONY: phase1
phase1: build phase-deps ## Phase 1: nginx + app + PostgreSQL on one server (DETACH=1 for background)
	$(RELEASE_BIN) stack up 1 $(DETACH_FLAG) $(PG_MEMORY_FLAG)

.PHONY: phase2
phase2: build phase-deps ## Phase 2: PostgreSQL on its own host (127.0.2.1), password auth, tuned
	$(RELEASE_BIN) stack up 2 $(DETACH_FLAG) $(PG_MEMORY_FLAG)

.PHONY: phase3
phase3: build-tiers phase-deps ## Phase 3: HAProxy over three stateless app servers (APPS=N for more; SESSIONS=memory to see why not)
	$(TIERS_BIN) stack up 3 $(DETACH_FLAG) $(SESSIONS_FLAG) $(PG_MEMORY_FLAG) $(APPS_FLAG)

.PHONY: phase4
phase4: build-tiers phase-deps ## Phase 4: phase 3 plus a Redis cache tier (127.0.3.1:6379)
	$(TIERS_BIN) stack up 4 $(DETACH_FLAG) $(SESSIONS_FLAG) $(PG_MEMORY_FLAG) $(APPS_FLAG)

.PHONY: phase5
phase5: build-tiers phase-deps ## Phase 5: phase 4 plus two streaming replicas (127.0.2.2, 127.0.2.3) taking the reads
	$(TIERS_BIN) stack up 5 $(DETACH_FLAG) $(SESSIONS_FLAG) $(PG_MEMORY_FLAG) $(APPS_FLAG)

.PHONY: phase6
phase6: build-tiers phase-deps ## Phase 6: phase 5 hardened: HTTPS only at HAProxy (127.0.0.1:8443, HSTS), TLS to PostgreSQL and between replicas, Redis behind a password
	$(TIERS_BIN) stack up 6 $(DETACH_FLAG) $(SESSIONS_FLAG) $(PG_MEMORY_FLAG) $(APPS_FLAG)

.PHONY: phase7
phase7: build-tiers phase-deps ## Phase 7: phase 6 with the app servers as containers of an image tagged with this commit (as root, Podman)
	@release=$$(BINARY=$(TIERS_BIN) scripts/build-images app) && \
	  $(TIERS_BIN) stack up 7 --image million-app:$$release $(DETACH_FLAG) $(SESSIONS_FLAG) $(PG_MEMORY_FLAG) $(APPS_FLAG)

.PHONY: images
images: build-tiers ## Build the container images (app, PostgreSQL, Redis, HAProxy) tagged with the commit and latest
	BINARY=$(TIERS_BIN) scripts/build-images

LOAD_FLAG := $(if $(LOAD),--load,)

.PHONY: deploy
deploy: build-tiers ## Phase 7: build the working tree into a new image, migrate, roll the app servers onto it (LOAD=1: under traffic)
	@release=$$(BINARY=$(TIERS_BIN) scripts/build-images app) && \
	  $(TIERS_BIN) stack deploy million-app:$$release $(LOAD_FLAG)

.PHONY: rollback
rollback: build-tiers ## Phase 7: roll the app servers back to the image before the last deploy (LOAD=1: under traffic)
	@$(TIERS_BIN) stack rollback $(LOAD_FLAG)

.PHONY: phase-status
phase-status: ## What runs where, and whether it is healthy
	@$(CONTROL_BIN) stack status

.PHONY: phase-down
phase-down: ## Stop a stack started with DETACH=1
	@$(CONTROL_BIN) stack down

.PHONY: phase-clean
phase-clean: ## Delete the stack's data, configs and logs (.million/stack)
	@$(CONTROL_BIN) stack clean

.PHONY: phase-seed
phase-seed: ## Load SEED_USERS users and SEED_ARTICLES articles into the running stack
	$(CONTROL_BIN) stack seed --users $(SEED_USERS) --articles $(SEED_ARTICLES)

.PHONY: kill-app
kill-app: ## Crash app server N (default 2); the supervisor restarts it after 10 s
	@$(CONTROL_BIN) stack kill app-$(N)

.PHONY: stop-app
stop-app: ## Stop app server N and keep it down
	@$(CONTROL_BIN) stack stop app-$(N)

.PHONY: start-app
start-app: ## Start app server N again
	@$(CONTROL_BIN) stack start app-$(N)

.PHONY: stop-redis
stop-redis: ## Stop the cache tier (phase 4): the site stays up with X-Cache: bypass
	@$(CONTROL_BIN) stack stop redis

.PHONY: start-redis
start-redis: ## Start the cache tier again
	@$(CONTROL_BIN) stack start redis

.PHONY: kill-db
kill-db: ## Crash PostgreSQL (the primary); the supervisor restarts it after 10 s
	@$(CONTROL_BIN) stack kill postgres

# The replicas are counted from 1, and replica-1 is the one to break first.
kill-replica pause-replica resume-replica: N = 1

.PHONY: kill-replica
kill-replica: ## Crash replica N (phase 5; default 1); the supervisor restarts it after 10 s
	@$(CONTROL_BIN) stack kill replica-$(N)

.PHONY: pause-replica
pause-replica: ## Pause WAL replay on replica N (phase 5; default 1): it lags, then leaves rotation
	@$(CONTROL_BIN) stack pause-replica replica-$(N)

.PHONY: resume-replica
resume-replica: ## Resume WAL replay on replica N
	@$(CONTROL_BIN) stack resume-replica replica-$(N)

.PHONY: load-deps
load-deps:
	@scripts/ensure-packages wrk
	@command -v oha >/dev/null || test -x "$$HOME/.cargo/bin/oha" || { echo "Installing oha, the fixed-rate load tool (once, a few minutes)…"; $(CARGO) install oha --locked; }

.PHONY: load
load: build load-deps ## Drive traffic through the running phase's front door (DURATION=20); requests/s, p50/p99, errors
	$(RELEASE_BIN) load $(if $(DURATION),--duration $(DURATION),)

.PHONY: bench
bench: build-tiers phase-deps load-deps ## What the cache buys: phase 3 vs phase 4 on the same data (DURATION=15 s a run)
	$(TIERS_BIN) bench $(if $(DURATION),--duration $(DURATION),)

.PHONY: bench-scale
bench-scale: build phase-deps load-deps ## Every endpoint on 10k users/20k articles vs 1M/2M (USERS=, ARTICLES=, DURATION=3 s a run)
	$(RELEASE_BIN) bench scale $(if $(USERS),--users $(USERS),) $(if $(ARTICLES),--articles $(ARTICLES),) $(if $(DURATION),--duration $(DURATION),)

.PHONY: bench-signin
bench-signin: build phase-deps load-deps ## Reads' p50/p99 alone and during a sign-in storm; sign-ins/s vs cores ÷ hash time (DURATION=10)
	$(RELEASE_BIN) bench signin $(if $(DURATION),--duration $(DURATION),)

.PHONY: lint
lint: ## Check formatting and lints
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --all-features -- -D warnings

.PHONY: clean
clean: ## Remove build output and the local database in .million/
	$(CARGO) clean
	rm -rf .million
