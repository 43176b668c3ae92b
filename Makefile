# Thin wrappers over docker compose and the scripts in scripts/.
# `make up` runs the kit; `make test` runs every test. See README.md.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Settings from .env (see .env.example) reach the scripts as well as compose. ENV_FILE
# names another file (the integration tests follow the README with their own).
ENV_FILE ?= .env
# A value set in the shell wins over the file's, as with docker compose
# (`CERT_HOSTS=... make certs` must not be silently replaced by .env's CERT_HOSTS); an
# empty one does not (a make that runs make exports every kit variable, empty or not).
ENV_FILE_NAMES := $(shell sed -n 's/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*=.*/\2/p' $(ENV_FILE) 2>/dev/null)
FROM_SHELL := $(foreach name,$(ENV_FILE_NAMES),$(if $(filter environment%,$(origin $(name))),$(if $(value $(name)),$(name))))
$(foreach name,$(FROM_SHELL),$(eval SHELL_VALUE_$(name) := $$(value $(name))))
-include $(ENV_FILE)
$(foreach name,$(FROM_SHELL),$(eval $(name) := $$(value SHELL_VALUE_$(name))))
export IMAGE_TAG HTTPS_PORT HTTP_PORT PUBLISH_ADDRESS PUBLISH_ADDRESS_V6 TLS_PROFILE CERT_HOSTS \
	CERT_PERMIT CERT_LIFETIME CERT_DAYS CERT_RENEW_INTERVAL CERT_RETRY_INTERVAL BLOG_ACCESS_MODE \
	BLOG_TITLE BLOG_TIMEZONE BLOG_LANGUAGE BLOG_DESCRIPTION BASE_IMAGE ACME_DOMAINS ACME_EMAIL \
	ACME_DIRECTORY ACME_CA_BUNDLE ACME_RENEW_INTERVAL ACME_RETRY_INTERVAL BLOG_SESSION_IDLE \
	BLOG_SESSION_MAX BLOG_OPEN_ON_NETWORK

# The address the first-run setup link is logged with (this machine, unless .env says).
ifeq ($(BLOG_PUBLIC_URL),)
BLOG_PUBLIC_URL := https://localhost$(if $(filter-out 443,$(HTTPS_PORT)),:$(HTTPS_PORT))
endif
export BLOG_PUBLIC_URL

# The machine's name goes into the default certificate names (compose alone cannot know it).
ifeq ($(CERT_HOSTNAME),)
CERT_HOSTNAME := $(shell hostname)
endif
export CERT_HOSTNAME

# Public copies for this machine's user: ca.pem to trust, client bundles to import. The
# keys themselves stay in the certs service's volume.
EXPORT_DIR := $(CURDIR)/certs
CERTS_RUN := docker compose run --rm --no-deps -T -e CERTS_HOST_DIR=$(EXPORT_DIR) certs
COPY_OUT := docker compose run --rm --no-deps -T --entrypoint cat certs
# certs/ca.pem: the CA certificate to trust, replaced whole (never half written).
define copy_ca_out
	$(COPY_OUT) /certs/ca.pem > $(EXPORT_DIR)/.ca.pem.tmp
	mv $(EXPORT_DIR)/.ca.pem.tmp $(EXPORT_DIR)/ca.pem
endef

VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
CODE := services tests bench

.PHONY: help images certs new-ca client-cert up setup-link down logs user venv test test-unit test-differential test-integration bench lint format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

images: ## build the images (makes a local base image where no registry answers)
	scripts/build-images.sh

certs: images ## make the CA and (re)issue the server certificate when due; copy ca.pem to certs/ (CA_KEY=FILE: a key kept offline)
	@# Kits before the certs service kept the CA in certs/: adopt it (never replaces another).
	@if [ -e "$(EXPORT_DIR)/ca-key.pem" ]; then \
		echo "certs/ca-key.pem found: importing that CA into the certs service's volume"; \
		cat "$(EXPORT_DIR)/ca.pem" "$(EXPORT_DIR)/ca-key.pem" | $(CERTS_RUN) import-ca -; \
	fi
	@# CA_KEY=FILE: a CA key kept off this machine, used in memory for this run only.
	$(CERTS_RUN) ensure $(if $(CA_KEY),--ca-key - < "$(CA_KEY)")
	$(copy_ca_out)

new-ca: images ## a new CA for CERT_HOSTS and CERT_PERMIT (old one kept as .bak); devices must trust it again
	$(CERTS_RUN) ensure --new-ca
	$(copy_ca_out)
	@echo "Trust the new $(EXPORT_DIR)/ca.pem on every device again (docs/certificates.md)."

client-cert: images ## make a client certificate for mutual TLS: make client-cert NAME=laptop
	@[ -n "$(NAME)" ] || { echo "usage: make client-cert NAME=laptop"; exit 2; }
	$(CERTS_RUN) client "$(NAME)"
	install -d -m 0700 $(EXPORT_DIR)/clients
	(umask 077; $(COPY_OUT) "/certs/clients/$(NAME).p12" > "$(EXPORT_DIR)/clients/$(NAME).p12")

up: certs ## build, check certificates, start the kit and wait until it is healthy
	docker compose up -d --wait || { echo "The kit did not come up healthy; the last lines of each log:"; \
		docker compose logs --tail 3; \
		echo "If docker said 'address already in use', another program holds a port: set HTTPS_PORT and HTTP_PORT in .env to free ones."; \
		exit 1; }
	@echo "The blog is at $(BLOG_PUBLIC_URL)/ (trust $(EXPORT_DIR)/ca.pem first: docs/certificates.md)."
	@# First run: the one-time link that makes the first admin, or what to do instead.
	@if [ "$(BLOG_ACCESS_MODE)" = open ]; then echo "BLOG_ACCESS_MODE=open: no login, anyone who reaches the blog can change it."; exit 0; fi; \
	link=$$($(MAKE) --no-print-directory setup-link 2>&1 | grep -v '^make\(\[[0-9]*\]\)\{0,1\}: \*\*\*') || true; \
	case "$$link" in \
		*/setup/*) echo "No admin yet. Create the first one at $$link (works once, for 24 hours; make setup-link prints it again)." ;; \
		*) echo "$$link" ;; \
	esac

setup-link: ## print the one-time link that makes the first admin (while there is none)
	@if docker compose exec -T blog blogctl user list | awk 'NR > 1 && $$2 == "admin" {found = 1} END {exit !found}'; then \
		echo "An admin exists already: log in at $(BLOG_PUBLIC_URL)/login (make user NAME=... adds more)."; exit 1; fi
	@docker compose logs blog | grep -oE 'https?://[^ ]+/setup/[A-Za-z0-9_-]{43,}' | tail -n 1 \
		|| { echo "No setup link in the blog's log: is the kit up? (make up, make logs)"; exit 1; }

down: ## stop the kit (the blog's data and the CA are kept)
	docker compose down

logs: ## follow the kit's logs
	docker compose logs -f

user: ## add a blog user: make user NAME=alice [ADMIN=1] (prompts for the password)
	@[ -n "$(NAME)" ] || { echo "usage: make user NAME=alice [ADMIN=1]"; exit 2; }
	docker compose exec blog blogctl user add "$(NAME)" $(if $(ADMIN),--admin)

$(VENV)/.stamp: requirements-dev.txt tests/requirements.txt tests/requirements-stack.txt services/proxy/requirements.txt services/blog/requirements.txt \
		services/acme/requirements.txt
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

test: test-unit test-differential test-integration ## every test: unit, ours against nginx, the whole stack

test-unit: venv ## in-process tests of each service (seconds)
	$(PYTEST) tests/unit

test-differential: venv ## the proxy and Debian's nginx side by side on one case table (about a minute; needs nginx)
	$(PYTEST) tests/differential

test-integration: venv images ## the whole stack through docker compose (a few minutes)
	$(PYTEST) -m integration tests/integration

bench: $(VENV)/.stamp ## benchmark the proxy against nginx (docs/benchmark.md); QUICK=1: the CI variant
	bench/run $(if $(QUICK),--quick)

lint: venv ## ruff lint and format check
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)

format: venv ## apply ruff's formatting
	$(VENV)/bin/ruff format $(CODE)

clean: ## stop the kit, delete the blog's data volume and the images (the CA is kept)
	docker compose down --rmi local
	docker volume rm -f "$${COMPOSE_PROJECT_NAME:-blogkit}_blog-data"
