# Thin wrappers over docker compose and the scripts in scripts/.
# `make up` runs the kit; `make test` runs every test. See README.md.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Settings from .env (see .env.example) reach the scripts as well as compose.
-include .env
export HTTPS_PORT HTTP_PORT PUBLISH_ADDRESS CERT_HOSTS CERT_DAYS BLOG_ACCESS_MODE BLOG_TITLE BASE_IMAGE

# The kit never runs as root: a root user's files are made for uid 10001.
KIT_UID ?= $(shell u=$$(id -u); [ "$$u" = 0 ] && echo 10001 || echo $$u)
KIT_GID ?= $(shell [ "$$(id -u)" = 0 ] && echo 10001 || id -g)
CERTS_DIR ?= $(CURDIR)/certs
export KIT_UID KIT_GID CERTS_DIR

VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
CODE := services tests

.PHONY: help images certs client-cert up down logs user venv test test-unit test-integration lint format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

images: ## build the images (makes a local base image where no registry answers)
	scripts/build-images.sh

certs: images ## make the local CA and (re)issue the server certificate when due
	scripts/certs.sh "$(CERTS_DIR)" ensure

client-cert: images ## make a client certificate for mutual TLS: make client-cert NAME=laptop
	@[ -n "$(NAME)" ] || { echo "usage: make client-cert NAME=laptop"; exit 2; }
	scripts/certs.sh "$(CERTS_DIR)" client "$(NAME)"

up: certs ## build, check certificates, start the kit and wait until it is healthy
	docker compose up -d --wait
	@echo "The blog is at https://localhost:$${HTTPS_PORT:-443}/ (trust $(CERTS_DIR)/ca.pem first)."

down: ## stop the kit (the blog's data volume is kept)
	docker compose down

logs: ## follow the kit's logs
	docker compose logs -f

user: ## add a blog user: make user NAME=alice [ADMIN=1] (prompts for the password)
	@[ -n "$(NAME)" ] || { echo "usage: make user NAME=alice [ADMIN=1]"; exit 2; }
	docker compose exec blog blogctl user add "$(NAME)" $(if $(ADMIN),--admin)

$(VENV)/.stamp: requirements-dev.txt tests/requirements.txt tests/requirements-stack.txt services/proxy/requirements.txt services/blog/requirements.txt
	[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# sslyze pins an older cryptography than the proxy: it gets a virtualenv of its own.
SSLYZE_VENV := .cache/sslyze
$(SSLYZE_VENV)/.stamp:
	[ -x $(SSLYZE_VENV)/bin/python ] || python3 -m venv $(SSLYZE_VENV)
	$(SSLYZE_VENV)/bin/pip install -q sslyze==6.3.1
	touch $@

venv: $(VENV)/.stamp $(SSLYZE_VENV)/.stamp ## host virtualenvs for tests and lint

test: test-unit test-integration ## every test: unit, then the whole stack

test-unit: venv ## in-process tests of each service (seconds)
	$(PYTEST) tests/unit

test-integration: venv images ## the whole stack through docker compose (a few minutes)
	$(PYTEST) -m integration tests/integration

lint: venv ## ruff lint and format check
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)

format: venv ## apply ruff's formatting
	$(VENV)/bin/ruff format $(CODE)

clean: ## stop the kit and delete its data volume and images (certs/ is kept)
	docker compose down -v --rmi local
