# Two commands do everything on a machine with rustup, Node 20 and npm:
#   make dev    set up, build, and serve the worker on http://127.0.0.1:$(PORT)
#   make test   set up, build, and run every test
# Every tool is installed on first use at a pinned version. Rust tools go to
# $(TOOLS), outside the checkout, so fresh clones on one machine share them.

SHELL := bash
# No -u: wrangler runs `make build` through a shell that may source bashrc.
.SHELLFLAGS := -e -o pipefail -c
.DEFAULT_GOAL := help

PORT ?= 8787
# Origins `make dev` allows: its own and Vite's default dev server.
DEV_ORIGINS ?= http://127.0.0.1:$(PORT) http://localhost:$(PORT) http://localhost:5173 http://127.0.0.1:5173
TOOLS ?= $(HOME)/.cache/anon-sessions-tools

WORKER_BUILD_VERSION := 0.8.7
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)

WORKER_BUILD := $(TOOLS)/worker-build-$(WORKER_BUILD_VERSION)/bin/worker-build
WASM_BINDGEN := $(TOOLS)/wasm-bindgen-$(WASM_BINDGEN_VERSION)/bin/wasm-bindgen
NODE_STAMP := node_modules/.package-lock.json
VENV := .venv
PY_STAMP := $(VENV)/.installed
WASM_TARGET := wasm32-unknown-unknown

# worker-build would download these; we hand it the pinned ones instead.
export WASM_BINDGEN_BIN := $(WASM_BINDGEN)
export WASM_OPT_BIN := $(CURDIR)/node_modules/.bin/wasm-opt
export ESBUILD_BIN := $(CURDIR)/node_modules/.bin/esbuild

BUILD_OUT := build/index_bg.wasm
SOURCES := $(shell find src -type f) Cargo.toml Cargo.lock

.PHONY: help dev test build setup test-host test-lint test-worker clean

help:
	@echo "make dev    build and serve the worker on http://127.0.0.1:$(PORT) (PORT=... to change)"
	@echo "make test   build and run every test"

## Set-up ------------------------------------------------------------------

setup: wasm-target $(WORKER_BUILD) $(WASM_BINDGEN) $(NODE_STAMP)

.PHONY: wasm-target
wasm-target:
	@rustup target list --installed | grep -qx '$(WASM_TARGET)' \
		|| rustup target add $(WASM_TARGET)

# `--locked` is tried first for reproducibility; it can fail when a locked
# dependency has been yanked, and then the pinned version is built unlocked.
$(WORKER_BUILD):
	cargo install worker-build --version =$(WORKER_BUILD_VERSION) --locked \
		--root $(TOOLS)/worker-build-$(WORKER_BUILD_VERSION) \
	|| cargo install worker-build --version =$(WORKER_BUILD_VERSION) \
		--root $(TOOLS)/worker-build-$(WORKER_BUILD_VERSION)

$(WASM_BINDGEN):
	@test -n "$(WASM_BINDGEN_VERSION)" || { echo "wasm-bindgen not found in Cargo.lock"; exit 1; }
	cargo install wasm-bindgen-cli --version =$(WASM_BINDGEN_VERSION) --locked \
		--root $(TOOLS)/wasm-bindgen-$(WASM_BINDGEN_VERSION) \
	|| cargo install wasm-bindgen-cli --version =$(WASM_BINDGEN_VERSION) \
		--root $(TOOLS)/wasm-bindgen-$(WASM_BINDGEN_VERSION)

$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

$(PY_STAMP): tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r tests/requirements.txt
	@touch $@

# A random development secret, made once and never committed (.gitignore).
.dev.vars:
	@node -e 'process.stdout.write("JWT_SECRET=" + require("crypto").randomBytes(32).toString("base64url") + "\n")' > $@
	@echo "made .dev.vars with a random JWT_SECRET for local development"

# SIGNING=eddsa serves the EdDSA mode: the development Ed25519 key below,
# listed as kid $(DEV_KID), signs, and JWT_SECRET only verifies old tokens.
# The default, hs256, is the seed's mode: JWT_SECRET signs, without kid.
SIGNING ?= hs256
DEV_KID := dev
ifeq ($(SIGNING),eddsa)
DEV_SIGNING_VARS := --var JWT_ALGORITHM:EdDSA --var JWT_KIDS:$(DEV_KID)
else ifneq ($(SIGNING),hs256)
$(error SIGNING must be hs256 or eddsa, not "$(SIGNING)")
endif

# A random development Ed25519 key (its 32-byte seed, base64url), added to
# .dev.vars once, also to one made before EdDSA existed.
.PHONY: dev-keys
dev-keys: .dev.vars
	@grep -q '^JWT_KEY_$(DEV_KID)=' .dev.vars || { \
		node -e 'const { generateKeyPairSync } = require("crypto"); const { d } = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }); process.stdout.write("JWT_KEY_$(DEV_KID)=" + d + "\n")' >> .dev.vars; \
		echo "added a random Ed25519 key, JWT_KEY_$(DEV_KID), to .dev.vars for local development"; }

## Build -------------------------------------------------------------------

build: $(BUILD_OUT)

# worker-build keeps the wasm name section for readable stack traces and
# optimises with -O. The deployed worker drops the names (a fifth of the
# file, about 21 KB gzip), the producers and target-features sections
# (read only by tools before this point), and gets a second pass with -Os
# (about 1.4 KB more), to stay within the 150,000-byte gzip budget that
# tests/size.test.mjs checks; a panic is a bug we test for rather than debug
# in production. The feature list is worker-build's own.
WASM_FEATURES := mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue \
	reference-types exception-handling
$(BUILD_OUT): $(SOURCES) | setup
	$(WORKER_BUILD) --release
	$(WASM_OPT_BIN) $(addprefix --enable-,$(WASM_FEATURES)) -Os --strip-debug --strip-producers \
		--strip-target-features $@ -o $@

# The same worker with the `test-hooks` feature (a route that panics), for
# the Miniflare suite only. Its own target dir keeps the two builds from
# invalidating each other.
TEST_BUILD_OUT := build-test/index_bg.wasm
$(TEST_BUILD_OUT): $(SOURCES) | setup
	CARGO_TARGET_DIR=target/test-hooks $(WORKER_BUILD) --release --no-opt -d build-test . --features test-hooks

## Serve -------------------------------------------------------------------

dev: setup dev-keys $(BUILD_OUT)
	@echo "serving on http://127.0.0.1:$(PORT) with local KV in .wrangler/state ($(SIGNING) signing)"
	WRANGLER_SEND_METRICS=false npx wrangler dev --ip 127.0.0.1 --port $(PORT) \
		--show-interactive-dev-session=false --var "ALLOWED_ORIGINS:$(DEV_ORIGINS)" $(DEV_SIGNING_VARS) $(DEV_ARGS)

## Test --------------------------------------------------------------------

test: test-lint test-host test-worker

# rustup's minimal profile leaves out rustfmt and clippy.
.PHONY: lint-tools
lint-tools:
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy

test-lint: wasm-target lint-tools
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --target $(WASM_TARGET) --lib -- -D warnings

test-host:
	cargo test --all-targets

test-worker: $(BUILD_OUT) $(TEST_BUILD_OUT) $(PY_STAMP)
	PYTHON=$(CURDIR)/$(VENV)/bin/python node --test --test-concurrency=1 tests/

# A longer fuzz pass than `make test` runs: FUZZ_CASES cases per property
# (proptest), optimised build. Any failure is shrunk and printed.
FUZZ_CASES ?= 1000000
.PHONY: fuzz
fuzz:
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --release --lib properties -- --test-threads=2

clean:
	rm -rf build build-test target/wasm32-unknown-unknown target/test-hooks .wrangler/state

## Benchmark -----------------------------------------------------------------

.PHONY: bench
bench: setup $(BUILD_OUT)
	node bench/run.mjs

## Client library, demo app and browser tests ----------------------------------
# client/ is the npm package (anon-sessions-client); demo/ is the seed's demo
# rebuilt on it, which the worker serves from build-assets/ at /demo/
# (wrangler.toml's [assets]). Each has its own package.json and lockfile, so
# their installs never touch the worker's tooling above.

CLIENT_STAMP := client/node_modules/.package-lock.json
DEMO_STAMP := demo/node_modules/.package-lock.json
CLIENT_OUT := client/dist/index.js
ASSETS_DIR := build-assets
DEMO_OUT := $(ASSETS_DIR)/demo/index.html
CLIENT_SOURCES := $(shell find client/src -type f) \
	client/package.json client/tsconfig.json client/tsconfig.build.json
DEMO_SOURCES := $(shell find demo/src -type f) demo/index.html demo/vite.config.ts \
	demo/tsconfig.json demo/package.json
# Extra `wrangler dev` arguments for `make dev`; the browser tests use it to
# keep their KV apart from yours (--persist-to).
DEV_ARGS ?=

.PHONY: demo dev-demo-address test-client test-e2e demo-screenshots

$(CLIENT_STAMP): client/package-lock.json
	cd client && npm ci --no-audit --no-fund
	@touch $@

$(DEMO_STAMP): demo/package-lock.json
	cd demo && npm ci --no-audit --no-fund
	@touch $@

$(CLIENT_OUT): $(CLIENT_SOURCES) $(CLIENT_STAMP)
	cd client && npm run --silent build

$(DEMO_OUT): $(DEMO_SOURCES) $(CLIENT_OUT) $(DEMO_STAMP)
	cd demo && npm run --silent build

demo: $(DEMO_OUT)

# assets/ holds the static files served as they are: /openapi.json and the
# _headers file that gives static assets (the demo, the document) their own
# headers, since the worker's do not reach them. Serving the API's
# description from assets keeps 30 KB of JSON out of the wasm, and a
# request for it out of the worker.
STATIC_SOURCES := $(wildcard assets/*)
STATIC_OUT := $(ASSETS_DIR)/openapi.json
$(STATIC_OUT): $(STATIC_SOURCES)
	@mkdir -p $(ASSETS_DIR)
	cp $(STATIC_SOURCES) $(ASSETS_DIR)/

# `wrangler deploy` (and `wrangler dev`) run `make build` and serve or upload
# build-assets/ with the worker, so the demo is built with it; build/ itself
# is unchanged. `make dev` builds it first all the same, so that wrangler
# finds build-assets/ whatever its [build] step does.
build: $(DEMO_OUT) $(STATIC_OUT)
dev: $(DEMO_OUT) $(STATIC_OUT) dev-demo-address
# The Miniflare suite serves assets/ too (tests/support/worker.mjs).
test-worker: $(STATIC_OUT)

.PHONY: clean-demo
clean: clean-demo
clean-demo:
	rm -rf $(ASSETS_DIR) client/dist

dev-demo-address:
	@echo "the demo app: http://127.0.0.1:$(PORT)/demo/"

test: test-client test-e2e

# Vitest with a fake fetch and fake timers, after type-checking the tests.
test-client: $(CLIENT_STAMP)
	cd client && npm test

# Headless Chromium (Debian's; CHROMIUM=... for another) drives the demo
# served by `make dev` on a free port with its own KV. .ci/run installs
# Chromium when it is missing.
test-e2e: $(DEMO_OUT) $(BUILD_OUT) .dev.vars
	cd demo && node --test --test-concurrency=1 e2e/

# Retakes docs/demo-*.png for the README (not part of `make test`: the
# pictures show a new id on every run).
demo-screenshots: $(DEMO_OUT) $(BUILD_OUT) .dev.vars
	cd demo && node e2e/screenshots.mjs
