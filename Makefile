# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/requirements-ref.txt | cksum | cut -d' ' -f1)

.PHONY: demo portal test test-under-load lint types pytest services bench soak fuzz proto clean

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

# The applicant portal (examples/portal) on embedded defaults in development mode: memory:// store, accounts
# in memory, codes written to .portal-mail/ and shown at http://localhost:8000/dev/mailbox (open it at localhost, not 127.0.0.1: passkeys are bound to that origin).
portal: $(STAMP)
	PYTHONPATH=examples $(PY) -m portal

# Regenerate src/verifykit/_wire/_pb from the .proto files (tests/server/test_api.py fails when stale).
proto: $(STAMP)
	$(PY) -c 'from verifykit.server._codegen import main; main()'

services:
	bash scripts/services.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples fuzz
	$(VENV)/bin/ruff format --check src tests examples fuzz

types: $(STAMP)
	$(VENV)/bin/mypy

# On every core (pytest-xdist: -n auto in pyproject.toml); PYTEST_ARGS='-n 0' runs it in one process.
PYTEST_ARGS ?=
pytest: $(STAMP) services
	$(PY) -m pytest $(PYTEST_ARGS)

test: $(STAMP) services lint types pytest

# The test suite beside BURN_WORKERS CPU-bound processes (default 2, scripts/burn.py): it must pass
# as it does alone, only slower; no test may lean on how fast the machine is.
BURN_WORKERS ?= 2
test-under-load: $(STAMP) services
	$(PY) scripts/burn.py --workers $(BURN_WORKERS) -- $(PY) -m pytest $(PYTEST_ARGS)

# The long forms of the fault suite: longer faults, more traffic, repeated restarts and failovers.
faults-long: $(STAMP) services
	$(PY) -m pytest tests/faults --run-long

bench: $(STAMP) services
	$(PY) -m verifykit bench all

# The long soak: 64 clients of mixed traffic through a sidecar on Redis for SOAK_SECONDS (default 10
# minutes); rewrites the table in docs/reliability.md and the plot docs/soak.png, and fails when a
# goal is missed (an unintended status, descriptors or RSS growing, OTP p99 above 3 x p50). SOAK_FACES: a photo folder with a manifest.csv.
SOAK_SECONDS ?= 600
SOAK_FACES ?= $(wildcard ../shared/data/faces)
soak: $(STAMP) services
	$(PY) -m verifykit bench soak --seconds $(SOAK_SECONDS) --doc docs/reliability.md --plot docs/soak.png \
		$(if $(SOAK_FACES),--faces $(SOAK_FACES))

# Coverage-guided fuzzing of every parser that takes outside input, FUZZ_SECONDS per target (fuzz/run.py;
# crashes are left in FUZZ_DIR/<target>/crash-*). `make test` runs each harness briefly. Every target runs
# under -rss_limit_mb (idle size plus its memory budget) and -timeout, so a decoder bomb is a crash; the
# image harness mutates whole PNG chunks, JPEG segments and WebP chunks, keeping lengths and CRCs right.
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= .fuzz
fuzz: $(STAMP)
	$(PY) -m fuzz.run all --seconds $(FUZZ_SECONDS) --workdir $(FUZZ_DIR)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .fuzz
