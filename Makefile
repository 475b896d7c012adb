# Everything a fresh machine needs: `make demo` and `make test` create .venv
# and install the tested stack on first use (tools/misc/install_env.sh).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo test test-fast clean-demo

env:
	@bash tools/misc/install_env.sh

demo: env
	$(PY) tools/demo/run_demo.py

test: env
	$(PY) -m pytest tests -q -p no:cacheprovider

test-fast: env
	$(PY) -m pytest tests -q -m "not slow" -p no:cacheprovider

clean-demo:
	rm -rf data/synthetic_levir work_dirs/demo
