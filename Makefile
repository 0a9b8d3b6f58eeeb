# E-Santé messaging service. `make run` serves it; `make test` tests it. Both install what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMPS := .cache/stamps
export PYTHONPATH := $(CURDIR)/layers:$(CURDIR)

INFRA_VENV := .venv-infra
CDK := .cache/node/node_modules/.bin/cdk
# jsii prints an end-of-life banner on Node 20; the value names the Node majors to silence.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20

ROLE ?= patient
USER_ID ?=
NAME ?=
EXPORT ?=
REASON ?=
JTI ?=

# An unset ENVIRONMENT means production (refuses the development secret); these targets say
# which one they are. `make token` records the users it mints where `make run` looks them up.
run token revoke legal-hold purge bench test test-unit test-integration test-browser screenshots: export ENVIRONMENT := development
run token: export DEV_DIRECTORY_FILE := $(CURDIR)/.cache/dev-users.jsonl
# `make run` purges in the background (retention.py); in AWS a scheduled Lambda does.
run: export PURGE_INTERVAL_SECONDS ?= 3600
# Holds and purges reach the store of a running `make run` through this Unix socket (no TCP port;
# a fresh key beside it, mode 0600; development only): messaging_core/operator_socket.py.
run legal-hold purge: export LOCAL_ADMIN_SOCKET ?= $(CURDIR)/.cache/run-admin.sock
# Scheduled messages (issue #16 B): sent by a background task of `make run`; in AWS by a Lambda.
run: export SCHEDULED_INTERVAL_SECONDS ?= 5

.PHONY: help run token revoke legal-hold purge test test-unit test-integration test-e2e test-infra lint format \
        servers-up servers-down build synth bench clean browser-deps test-browser screenshots \
        lambda-rie smoke hooks lock

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMPS):
	@mkdir -p $(STAMPS)

$(VENV)/bin/python:
	@echo "creating the virtual environment in $(VENV) (first run only)" >&2
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install -q --upgrade pip >&2

# Installs come from the lock files (every package pinned with its hashes: `make lock` writes
# them from requirements/*.txt). Progress goes to stderr: `eval "$(make -s token ...)"` reads
# stdout only.
$(STAMPS)/run.txt: requirements/run.lock | $(VENV)/bin/python $(STAMPS)
	@echo "installing what serving needs (first run only, about a minute)" >&2
	@$(PIP) install -q --require-hashes -r requirements/run.lock >&2
	@touch $@

$(STAMPS)/dev.txt: requirements/dev.lock $(STAMPS)/run.txt
	@echo "installing test and lint tools (first run only)"
	@$(PIP) install -q --require-hashes -r requirements/dev.lock
	@touch $@

lock: $(STAMPS)/dev.txt ## Rewrite requirements/*.lock (pins + hashes) from requirements/*.txt
	@bash scripts/lock.sh

run: $(STAMPS)/run.txt ## Serve REST + Socket.IO on http://localhost:3006 with embedded defaults
	@$(PY) -m socket_tier.local

token: $(STAMPS)/run.txt ## Mint a dev token: make token ROLE=doctor [NAME="Dr. Who"] [USER_ID=..] [EXPORT=VAR]
	@$(PY) scripts/mint_token.py --role "$(ROLE)" --user-id "$(USER_ID)" --name "$(NAME)" --as "$(EXPORT)"

revoke: $(STAMPS)/run.txt ## End a user's sessions now: make revoke USER_ID=<24 hex> [REASON=..] [JTI=..] (needs REDIS_URL)
	@$(PY) -m socket_tier.admin revoke --user-id "$(USER_ID)" --reason "$(REASON)" --jti "$(JTI)"

legal-hold: $(STAMPS)/run.txt ## Hold a conversation: make legal-hold CONVERSATION_ID=.. REASON=.. OPERATOR=.. [LIFT=1] (next to `make run`, or with MONGODB_URI)
	@$(PY) -m messaging_core.compliance_admin $(if $(LIFT),lift,hold) --conversation-id "$(CONVERSATION_ID)" --reason "$(REASON)" --operator "$(OPERATOR)"

purge: $(STAMPS)/run.txt ## Run the retention purge once now (next to `make run`, or with MONGODB_URI; `make run` runs it hourly)
	@$(PY) -m messaging_core.compliance_admin purge

servers-up: ## Start the real servers the integration tests use (Redis, FerretDB, Kafka, S3)
	@bash scripts/servers/start.sh redis mongo kafka s3

servers-down: ## Stop them
	@bash scripts/servers/stop.sh

test: $(STAMPS)/dev.txt servers-up browser-deps lambda-rie $(INFRA_VENV)/.installed ## Install what is missing, start the servers, run every test
	@$(PY) -m pytest tests --ignore=tests/infra -q
	@$(INFRA_VENV)/bin/python -m pytest -q tests/infra -p no:cacheprovider --confcutdir=tests/infra

test-infra: $(INFRA_VENV)/.installed ## CDK assertion tests and cdk-nag (no AWS account needed)
	@$(INFRA_VENV)/bin/python -m pytest -q tests/infra -p no:cacheprovider --confcutdir=tests/infra

$(INFRA_VENV)/.installed: requirements/infra.lock
	@echo "installing the CDK libraries into $(INFRA_VENV) (first run only, about a minute)"
	@$(PYTHON) -m venv $(INFRA_VENV)
	@$(INFRA_VENV)/bin/pip install -q --upgrade pip
	@$(INFRA_VENV)/bin/pip install -q --require-hashes -r requirements/infra.lock
	@touch $@

$(CDK):
	@echo "installing the CDK CLI into .cache/node (first run only)"
	@npm install --prefix .cache/node --no-audit --no-fund aws-cdk@2.1148.1 >/dev/null

build: ## Build the Lambda layer and function bundles into build/ (pip for Linux arm64)
	@bash scripts/build_lambda.sh

lambda-rie: $(STAMPS)/dev.txt ## Bundles for this machine + awslambdaric + the Lambda emulator (cached)
	@bash scripts/lambda_rie/prepare.sh >/dev/null

synth: build $(INFRA_VENV)/.installed $(CDK) ## cdk synth offline into cdk.out/ (no Docker, no AWS account)
	@AWS_EC2_METADATA_DISABLED=true $(CDK) synth --no-notices --no-version-reporting --quiet

smoke: ## Black-box check of a deployed stack: make smoke URL=https://<ServiceUrl> (docs/deploy.md)
	@bash scripts/smoke/smoke.sh "$(URL)"

test-unit: $(STAMPS)/dev.txt ## Unit tests only (no server)
	@$(PY) -m pytest tests/unit -q

test-integration: $(STAMPS)/dev.txt servers-up browser-deps lambda-rie ## Integration, Lambda runtime and end-to-end tests (real servers)
	@$(PY) -m pytest tests/integration tests/lambda_runtime tests/e2e -q

browser-deps: ## Debian's Chromium (apt, when missing) and the pinned playwright-core; fails without a browser
	@bash tests/e2e/browser/install.sh

test-browser: $(STAMPS)/dev.txt browser-deps ## The demo page in Chromium: a patient and a doctor chat (about 30 s)
	@$(PY) -m pytest tests/e2e/test_demo_page.py -q

screenshots: $(STAMPS)/dev.txt browser-deps ## Regenerate docs/screenshots/*.png from the browser test
	@SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest tests/e2e/test_demo_page.py -q

lint: $(STAMPS)/dev.txt ## ruff (lint + format check) and mypy
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy layers/messaging_core functions socket_tier

hooks: $(STAMPS)/dev.txt ## Install the git pre-commit hooks (ruff, mypy: .pre-commit-config.yaml)
	@$(VENV)/bin/pre-commit install

format: $(STAMPS)/dev.txt ## Format the code
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

bench: $(STAMPS)/dev.txt servers-up ## Run every benchmark (about ten minutes; see bench/README.md)
	@$(PY) bench/cold_start.py
	@$(PY) bench/warm_overhead.py
	@eval "$$(bash scripts/servers/env.sh)" && $(PY) bench/warm_overhead.py --n 1000 --mongo "$$TEST_MONGODB_URI"
	@$(PY) bench/events_bench.py
	@$(PY) bench/socket_bench.py
	@$(PY) bench/abuse_bench.py
	@eval "$$(bash scripts/servers/env.sh)" && $(PY) bench/connections.py idle --clients 1000 --redis-url "$$TEST_REDIS_URL"

clean: ## Remove caches and build output (keeps downloaded servers in .cache/)
	rm -rf build cdk.out .pytest_cache .mypy_cache .ruff_cache $(STAMPS)
