# The two commands of README.md, and a few for developers.
#   make run    install what is missing, build, start `postern demo` (PORT=9000) on a fresh
#               temporary data directory: it prints the URL to open and the credentials
#   make test   install what is missing, build with ASan+UBSan, run every test
#   make serve  build, then `postern serve --config CONFIG` (examples/postern.yaml)
SHELL := /bin/bash
BUILD      ?= build
TEST_BUILD ?= build-test
FUZZ_BUILD ?= build-fuzz
SECONDS    ?= 60
CONFIG     ?= examples/postern.yaml
PORT       ?= 9000
PY         := /usr/bin/python3

.PHONY: run serve build test fuzz bench format clean

run: build
	./$(BUILD)/postern demo --port $(PORT)

serve: build
	@mkdir -p data
	./$(BUILD)/postern serve --config $(CONFIG)

build:
	scripts/install-deps
	@if [ -d $(BUILD) ]; then meson setup --reconfigure $(BUILD) >/dev/null; \
	 else CC=gcc meson setup $(BUILD) --buildtype=release -Dtests=false >/dev/null; fi
	ninja -C $(BUILD) postern

test:
	scripts/install-deps --test
	@if [ -d $(TEST_BUILD) ]; then meson setup --reconfigure $(TEST_BUILD) >/dev/null; \
	 else CC=gcc meson setup $(TEST_BUILD) -Db_sanitize=address,undefined >/dev/null; fi
	ninja -C $(TEST_BUILD)
	$(PY) tests/run.py $(TEST_BUILD)

# Runs every libFuzzer target for SECONDS each; new inputs go to fuzz/artifacts/NAME,
# crashes to fuzz/artifacts/. Copy real finds into fuzz/corpus/NAME by hand.
fuzz:
	scripts/install-deps --test
	@if [ -d $(FUZZ_BUILD) ]; then meson setup --reconfigure $(FUZZ_BUILD) >/dev/null; \
	 else CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false \
	   -Db_sanitize=address,undefined >/dev/null; fi
	ninja -C $(FUZZ_BUILD)
	@set -e; for f in $(FUZZ_BUILD)/fuzz/fuzz_*; do \
	  n=$${f##*/fuzz_}; mkdir -p fuzz/artifacts/$$n; \
	  echo "== $$n ($(SECONDS)s)"; \
	  $$f -max_total_time=$(SECONDS) -print_final_stats=1 -artifact_prefix=fuzz/artifacts/ \
	    fuzz/artifacts/$$n fuzz/corpus/$$n 2>&1 | grep -E "^(stat::number_of_executed_units|==|SUMMARY|artifact)" || true; \
	done

bench:
	scripts/install-deps --test
	bench/jose/run
	bench/http/run
	bench/idp/run
	bench/gate/run
	bench/nodes/run

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'fuzz/*.c' 'bench/*.c')

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD) build-bench
