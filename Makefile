# Everything a fresh machine needs: `make demo` and `make test` create .venv
# and install the tested stack on first use (tools/misc/install_env.sh).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo test test-fast lint format clean-demo

LINT_PATHS := mmcd_ext tools tests configs setup.py

env:
	@bash tools/misc/install_env.sh

demo: env
	$(PY) tools/demo/run_demo.py

test: env
	$(PY) -m pytest tests -q -p no:cacheprovider

test-fast: env
	$(PY) -m pytest tests -q -m "not slow" -p no:cacheprovider

# OpenMMLab's checks (settings in pyproject.toml): flake8-style errors,
# import order, yapf formatting. `make format` rewrites files to pass them.
lint: env
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/isort --check-only --diff $(LINT_PATHS)
	$(VENV)/bin/yapf --diff --recursive $(LINT_PATHS)

format: env
	$(VENV)/bin/isort $(LINT_PATHS)
	$(VENV)/bin/yapf --in-place --recursive --parallel $(LINT_PATHS)
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)

clean-demo:
	rm -rf data/synthetic_levir work_dirs/demo
