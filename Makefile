# Two commands do all the set-up: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Expensive things are cached outside the checkout, keyed by what they depend on,
# so a fresh clone reuses them and any change to their inputs rebuilds them.
CACHE_DIR ?= $(HOME)/.cache/alimail-assistant
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
VENV_CACHE := $(CACHE_DIR)/venv-$(REQ_HASH)
# .venv is this checkout's own thin venv on top of VENV_CACHE, with the project installed editable.
VENV := .venv
PY := $(VENV)/bin/python
# Rasa always starts through tools.serve: it checks the Rasa version and applies tools/rasa_patches/.
RASA := $(PY) -m tools.serve
SPACY_MODEL := build/spacy/en_lookup
MODEL_HASH = $(shell python3 -m trainer.model_hash)
MODEL = models/$(MODEL_HASH).tar.gz

RASA_HOST ?= 127.0.0.1
RASA_PORT ?= 5005
ACTION_HOST ?= 127.0.0.1
ACTION_PORT ?= 5055
TICKETS_API_PORT ?= 5056
# Held-out NLU thresholds: make test fails below them (English, then Chinese).
MIN_INTENT_ACCURACY ?= 0.97
MIN_OOS_RECALL ?= 0.88
MIN_INTENT_ACCURACY_ZH ?= 0.95
MIN_OOS_RECALL_ZH ?= 0.88
# Paraphrase sets (issue 14): the same intents asked in words and frames the training data lacks.
MIN_PARAPHRASE_ACCURACY ?= 0.90
MIN_PARAPHRASE_OOS_RECALL ?= 0.88

export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: help venv spacy-model responses train run shell test validate test-unit test-stories lint test-integration \
        test-nlu test-e2e tickets compare-pipelines clean webchat browser check-data new-problem jieba-dict wordnet
.PHONY: report
.PHONY: bench
.PHONY: purge scrub

help:
	@echo "make run     set up (venv, spaCy pipeline, model) and start the action server and Rasa"
	@echo "make run-production  the same with PostgreSQL + Redis and several processes (ALIMAIL_PROFILE=production; README)"
	@echo "make test    the same set-up, then every check"
	@echo "make shell   talk to the bot in the terminal (rasa shell)"
	@echo "make tickets ARGS='list --status open'   the staff ticket tool (python -m tickets.cli)"
	@echo "make review-export [ARGS='--since 2026-11-01']  real messages the bot got wrong -> review/to_review.yml"
	@echo "make review-merge FILE=review/to_review.yml     add the messages labelled there to data/nlu"
	@echo "make train   train the model if data or config changed"
	@echo "make webchat build the web chat widget into build/webchat (npm ci; served by Rasa)"
	@echo "make browser install Chromium for the browser test when /usr/bin/chromium is missing"
	@echo "make rt      install Request Tracker 5 for the RT backend's tests when it is missing"
	@echo "make responses  regenerate data/responses/faq.yml from the knowledge file"
	@echo "make check-data the trainers' data check (fast, no training; see TRAINING.md)"
	@echo "make new-problem KEY=... TITLE=\"...\"  scaffold a new troubleshooting guide"
	@echo "make compare-pipelines  train and score each candidate NLU pipeline (experiments/pipelines)"
	@echo "make report  the trainers' NLU report -> reports/nlu/index.md (FOLDS=5; FOLDS=2 REPORT_EPOCHS=3 for a quick run)"
	@echo "make purge   delete conversations and closed tickets' transcripts past retention (README, Retention; cron-safe)"
	@echo "make scrub   mask the secrets already stored in the tracker store and ticket database (ARGS=--dry-run)"
	@echo "make profile where one turn's time goes, short and 200-turn conversations (ARGS=\"--profile production\")"
	@echo "make bench   benchmark against the starter bot of rasa init -> results/bench/latest.json (ARGS=\"--duration 10\")"

# --- set-up -----------------------------------------------------------------
venv: $(VENV)/.ready

$(VENV)/.ready: requirements.txt requirements-dev.txt pyproject.toml
	@if [ ! -f "$(VENV_CACHE)/.complete" ]; then \
	  echo "Creating the Python 3.10 virtual environment in $(VENV_CACHE)"; \
	  rm -rf "$(VENV_CACHE)" && mkdir -p "$(CACHE_DIR)" && \
	  "$$(scripts/find_python.sh)" -m venv "$(VENV_CACHE)" && \
	  "$(VENV_CACHE)/bin/pip" install --quiet -r requirements-dev.txt && \
	  "$(VENV_CACHE)/bin/pip" check && \
	  touch "$(VENV_CACHE)/.complete"; \
	fi
	@rm -rf $(VENV) && "$(VENV_CACHE)/bin/python" -m venv --without-pip $(VENV)
	@echo 'import site; site.addsitedir("$(VENV_CACHE)/lib/python3.10/site-packages")' \
	  > $(VENV)/lib/python3.10/site-packages/00-alimail-dependencies.pth
	@$(PY) -m pip install --quiet --no-deps --no-build-isolation --no-index -e .
	@touch $@

spacy-model: $(SPACY_MODEL)/meta.json

$(SPACY_MODEL)/meta.json: tools/build_spacy_model.py $(VENV)/.ready
	$(PY) -m tools.build_spacy_model $(SPACY_MODEL)

# jieba's 60,000 most frequent words (components/mixed_script_tokenizer.py loads them by path).
JIEBA_DICT := build/jieba/dict.txt
jieba-dict: $(JIEBA_DICT)

$(JIEBA_DICT): tools/build_jieba_dict.py $(VENV)/.ready
	$(PY) -m tools.build_jieba_dict $(JIEBA_DICT)

responses: venv
	$(PY) -m tools.sync_responses

# WordNet 3.0 for the lexical normalizer's synonyms (components/lexical_normalizer.py): Debian's
# wordnet-base files (installed when missing, as `make browser` installs Chromium), laid out with
# the `lexnames` list nltk's reader needs (tools/build_wordnet.py). Nothing is downloaded at run time.
WORDNET := build/wordnet
wordnet: $(WORDNET)/lexnames

$(WORDNET)/lexnames: tools/build_wordnet.py
	@if [ ! -f /usr/share/wordnet/data.noun ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing WordNet (wordnet-base)"; \
	    (DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq wordnet-base >/dev/null 2>&1 || \
	     (apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq wordnet-base >/dev/null)); \
	  else \
	    echo "Training needs WordNet: run 'sudo apt-get install -y wordnet-base'" >&2; exit 1; \
	  fi; \
	fi
	python3 -m tools.build_wordnet $(WORDNET)

# Trains only when no model exists for the current hash of data, domain and config.
train: venv spacy-model jieba-dict wordnet
	@$(PY) -m tools.sync_responses --check
	@mkdir -p models "$(CACHE_DIR)/models"
	@if [ -f "$(CACHE_DIR)/$(MODEL)" ]; then \
	  echo "Model up to date: $(MODEL)"; \
	else \
	  echo "Training $(MODEL) (data or config changed)"; \
	  $(RASA) train --fixed-model-name $(MODEL_HASH) --out "$(CACHE_DIR)/models" && \
	  test -f "$(CACHE_DIR)/$(MODEL)"; \
	fi
	@# Copied only when different, by rename: a test loading the model meanwhile never reads half a file.
	@cmp -s "$(CACHE_DIR)/$(MODEL)" $(MODEL) || \
	  { cp -f "$(CACHE_DIR)/$(MODEL)" $(MODEL).partial && mv -f $(MODEL).partial $(MODEL); }

# The web chat widget (webchat/): npm ci from the committed lock file (in build/, so node_modules
# stays out of the checkout), then the widget's files and socket.io.min.js into build/webchat/,
# which the Rasa channel channels/webchat.py serves at /webhooks/socketio/webchat/.
WEBCHAT_SRC := $(wildcard webchat/src/*)
webchat: build/webchat/.ready

build/webchat/.ready: webchat/package.json webchat/package-lock.json $(WEBCHAT_SRC)
	@command -v npm >/dev/null || { echo "make webchat needs Node.js 20 and npm on the PATH" >&2; exit 1; }
	@mkdir -p build/webchat-npm
	@cp webchat/package.json webchat/package-lock.json build/webchat-npm/
	cd build/webchat-npm && npm ci --no-audit --no-fund --loglevel=error
	@rm -rf build/webchat && mkdir -p build/webchat
	cp build/webchat-npm/node_modules/socket.io-client/dist/socket.io.min.js $(WEBCHAT_SRC) build/webchat/
	@touch $@

# Chromium for the browser test (Playwright drives Debian's /usr/bin/chromium; its own browser
# downloads are not used), and a CJK font so the Chinese screenshot is legible. Installs only
# what is missing.
browser:
	@missing=""; [ -x /usr/bin/chromium ] || missing="chromium"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-noto-cjk"; \
	if [ -z "$$missing" ]; then \
	  echo "Chromium and a CJK font present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing for the browser test: $$missing"; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $$missing >/dev/null; \
	elif [ -x /usr/bin/chromium ]; then \
	  echo "No CJK font: Chinese in test-output/webchat-zh.png shows as boxes ('sudo apt-get install -y fonts-noto-cjk')" >&2; \
	else \
	  echo "The browser test needs:$$missing — run 'sudo apt-get install -y$$missing'" >&2; exit 1; \
	fi

# Request Tracker 5 for the RT backend's tests (tests/integration/tickets/backends/test_rt.py; Debian's
# packages, SQLite database; installed when missing, as `make browser` installs Chromium).
RT_SERVER := /usr/share/request-tracker5/libexec/rt-server
RT_DB := /var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb
.PHONY: rt
rt:
	@if [ -x $(RT_SERVER) ] && [ -f $(RT_DB) ]; then \
	  echo "Request Tracker 5 present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Request Tracker 5 for the RT tests (about 2 minutes)"; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
	    install -y -qq --no-install-recommends request-tracker5 rt5-standalone rt5-db-sqlite >/dev/null; \
	else \
	  echo "The RT tests need Request Tracker 5 — run 'sudo apt-get install -y --no-install-recommends request-tracker5 rt5-standalone rt5-db-sqlite'" >&2; exit 1; \
	fi

# --- using it ---------------------------------------------------------------
run: train webchat
	@MODEL=$(MODEL) RASA_HOST=$(RASA_HOST) RASA_PORT=$(RASA_PORT) ACTION_HOST=$(ACTION_HOST) \
	  ACTION_PORT=$(ACTION_PORT) TICKETS_API_PORT=$(TICKETS_API_PORT) scripts/run.sh

# The production profile: PostgreSQL trackers and tickets, Redis locks, RASA_PROCESSES Rasa servers
# (default 2, on RASA_PORT and up) and ACTION_PROCESSES action server workers; settings from the
# environment (README, "Production profile"). Refuses to start while a store is unreachable.
.PHONY: run-production
run-production: train webchat
	@ALIMAIL_PROFILE=production MODEL=$(MODEL) RASA_HOST=$(RASA_HOST) RASA_PORT=$(RASA_PORT) \
	  ACTION_HOST=$(ACTION_HOST) ACTION_PORT=$(ACTION_PORT) TICKETS_API_PORT=$(TICKETS_API_PORT) scripts/run.sh

shell: train
	@MODEL=$(MODEL) ACTION_HOST=$(ACTION_HOST) ACTION_PORT=$(ACTION_PORT) scripts/run.sh --shell

# --- checks -----------------------------------------------------------------
# Two lines at once on the 2 cores: the checks that start no Rasa server, cheap ones first, one after
# another; and beside them the attack and end-to-end tests (test-servers), which spend most of their
# time waiting for servers. Each step's output is printed when the step ends; after a failure no
# new step starts (the running one finishes) and make exits non-zero.
test: venv train webchat browser
	@$(MAKE) --no-print-directory -j2 --output-sync=target servers-line test-checks

.PHONY: test-checks
test-checks: lint check-data validate test-unit test-integration test-stories test-nlu

# ruff (lint and format), mypy, and the layer contract of pyproject.toml (import-linter; ARCHITECTURE.md).
.PHONY: lint test-integration
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -c 'from importlinter.cli import lint_imports_command; lint_imports_command()'

# The trainers' data check (trainer/check.py): seconds, no training; file:line and a fix per mistake.
check-data: venv
	$(PY) -m trainer.check

# Scaffold a new troubleshooting guide: make new-problem KEY=shared_mailbox TITLE="Can't open a shared mailbox"
new-problem: venv
	@test -n "$(KEY)" || { echo 'usage: make new-problem KEY=lower_case_key TITLE="Title users see"' >&2; exit 2; }
	$(PY) -m trainer.scaffold new-problem "$(KEY)" $(if $(TITLE),--title "$(TITLE)")

validate: venv
	$(PY) -m tools.sync_responses --check
	$(RASA) data validate --fail-on-warnings

test-stories: train
	$(RASA) test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors \
	  --out results/stories --no-plot

# Each set is scored even when an earlier one failed; the target fails if any did.
test-nlu: train
	@status=0; \
	$(PY) -m trainer.evaluate --model $(MODEL) --test-data tests/nlu/heldout.yml \
	  --min-accuracy $(MIN_INTENT_ACCURACY) --min-oos-recall $(MIN_OOS_RECALL) --out results/nlu || status=1; \
	$(PY) -m trainer.evaluate --model $(MODEL) --test-data tests/nlu/heldout_zh.yml \
	  --min-accuracy $(MIN_INTENT_ACCURACY_ZH) --min-oos-recall $(MIN_OOS_RECALL_ZH) --out results/nlu || status=1; \
	$(PY) -m trainer.evaluate --model $(MODEL) --test-data tests/nlu/paraphrase.yml --test-data tests/nlu/paraphrase_zh.yml \
	  --min-accuracy $(MIN_PARAPHRASE_ACCURACY) --min-oos-recall $(MIN_PARAPHRASE_OOS_RECALL) --out results/nlu || status=1; \
	exit $$status

# Unit tests: one process, no servers, no PostgreSQL or Redis (tests/unit/<package>/test_<module>.py).
test-unit: venv wordnet spacy-model jieba-dict
	$(PY) -m pytest tests/unit -q

# Integration tests: real subprocesses, SQLite/PostgreSQL/Redis, a real Request Tracker 5 (make rt), no trained model.
test-integration: venv rt
	$(PY) -m pytest tests/integration -q

# Attack tests (SECURITY.md): each one an attack on the real servers on local ports.
.PHONY: test-security
test-security: train webchat browser
	ALIMAIL_MODEL=$(MODEL) $(PY) -m pytest tests/security -q

test-e2e: train webchat browser
	ALIMAIL_MODEL=$(MODEL) ALIMAIL_CACHE_DIR=$(CACHE_DIR) $(PY) -m pytest tests/e2e -q

# test-security then test-e2e in one pytest process (what `make test` runs): modules that need the same
# server configuration share one start of the servers (tests/conftest.py, tests/e2e/servers.py).
# tests/e2e/test_faults.py (issue 17) starts its own redis-server and PostgreSQL cluster (initdb, pg_ctl)
# on free ports and stops them in turn under load: it needs those programs, never the machine's servers.
SERVERS_TESTS = ALIMAIL_MODEL=$(MODEL) ALIMAIL_CACHE_DIR=$(CACHE_DIR) $(PY) -m pytest tests/security tests/e2e -q
.PHONY: test-servers servers-line
test-servers: train webchat browser
	$(SERVERS_TESTS)

# make test's line of test-servers: its prerequisites are made before, so it starts at once.
servers-line:
	$(SERVERS_TESTS)

tickets: venv
	$(PY) -m tickets.cli $(ARGS)

# Learning from real conversations (trainer/review.py, TRAINING.md): export the messages the
# bot misunderstood from the tracker store (TRACKER_DB_URL, default var/trackers.sqlite3),
# then merge the ones a trainer labelled into data/nlu.
.PHONY: review-export review-merge
REVIEW_FILE ?= review/to_review.yml
review-export: venv
	$(PY) -m trainer.review export $(ARGS)

review-merge: venv
	$(PY) -m trainer.review merge $(or $(FILE),$(REVIEW_FILE)) $(ARGS)

# Retention and existing data (README "Retention", SECURITY.md): tools/purge.py deletes conversations
# whose last event is older than CONVERSATION_RETENTION_DAYS and closed tickets' transcripts after
# TICKET_TRANSCRIPT_RETENTION_DAYS; tools/scrub.py masks secrets already stored. Both take the running
# bot's stores by default, print what they changed, and are safe from cron (exit codes in tools/maintenance.py).
# Not echoed: ARGS may hold a database URL with its password.
purge: venv
	@$(PY) -m tools.purge $(ARGS)

scrub: venv
	@$(PY) -m tools.scrub $(ARGS)

compare-pipelines: venv spacy-model jieba-dict wordnet
	scripts/compare_pipelines.sh

# The trainers' NLU report (trainer/report.py; TRAINING.md explains it): cross-validation on the
# training data and the held-out sets against the trained model, into reports/nlu/ (index.md,
# index.html, confusion matrix; history.csv keeps one row per run). Quick: make report FOLDS=2 REPORT_EPOCHS=3
FOLDS ?= 5
REPORT_EPOCHS ?=
REPORT_DIR ?= reports/nlu
REPORT_HELDOUT = $(wildcard tests/nlu/heldout.yml tests/nlu/heldout_zh.yml tests/nlu/paraphrase.yml tests/nlu/paraphrase_zh.yml)
report: train
	$(PY) -m trainer.report --model $(MODEL) --folds $(FOLDS) $(if $(REPORT_EPOCHS),--epochs $(REPORT_EPOCHS)) \
	  $(addprefix --heldout ,$(REPORT_HELDOUT)) --out $(REPORT_DIR)

# Benchmark against the starter bot `rasa init --no-prompt` creates (tools/bench/): cold training,
# time to ready, memory, sequential latency and concurrent users, both bots on this machine in one run.
# Reports only, never fails on timings. Results: results/bench/latest.json. Quick re-run:
# make bench ARGS="--skip-train --duration 10"
bench: train
	$(PY) -m tools.bench --model $(MODEL) $(ARGS)

# Where a turn's time goes (tools/bench/profile.py, README "Where a turn's time goes"): a short and a
# 200-turn conversation over REST, each turn broken into its parts. ARGS="--profile production" for
# PostgreSQL + Redis on this machine.
.PHONY: profile
profile: train
	$(PY) -m tools.bench.profile --model $(MODEL) $(ARGS)

clean:
	rm -rf build models results .rasa .pytest_cache $(VENV)
