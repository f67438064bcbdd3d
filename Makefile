# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/requirements-ref.txt | cksum | cut -d' ' -f1)

.PHONY: demo test lint types pytest services bench proto clean

$(STAMP): pyproject.toml scripts/requirements-ref.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e ".[all,dev]"
	# Reference face pipeline for tests and benchmarks only: face_recognition declares a dependency on
	# the dlib source package; we already have dlib from dlib-bin, so install it without its deps.
	$(PY) -m pip install -q --no-deps -r scripts/requirements-ref.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# The full tour: starts `verifykit serve` on embedded defaults, walks an applicant through an email
# code, a password signup and login, and a face enrolment and verification, then stops the sidecar.
demo: $(STAMP)
	$(PY) -m verifykit demo

# Regenerate src/verifykit/_wire/_pb from the .proto files (tests/server/test_api.py fails when stale).
proto: $(STAMP)
	$(PY) -c 'from verifykit.server._codegen import main; main()'

services:
	bash scripts/services.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples
	$(VENV)/bin/ruff format --check src tests examples

types: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) services
	$(PY) -m pytest

test: $(STAMP) services lint types pytest

bench: $(STAMP) services
	$(PY) -m verifykit bench all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
