# The two commands: `make run` (install, build, start the stack) and `make test` (the same set-up, every test).
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
PYTHON := /usr/bin/python3

.PHONY: all deps build run up down status migrate test unit-test sanitize-test fuzz-test integration-test chaos-test \
        container-test test-cluster bench format clean install deb

all: build

deps:
	@deploy/deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS) -- --no-print-directory

# Foreground: a line per stage, then the logs; Ctrl-C or SIGTERM stops every process of the stack (also when the
# output goes through a pipe). Only the programs are built, quietly: the compiler's output is in build.log.
run:
	@printf '[1/5] deps      '; deploy/deps.sh
	@printf '[2/5] build     '; start=$$(date +%s); mkdir -p $(BUILD_DIR); \
	  if { cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) && \
	       cmake --build $(BUILD_DIR) -j$(JOBS) --target chat_programs -- --no-print-directory; } \
	     >$(BUILD_DIR)/build.log 2>&1; then \
	    echo "programs built in $$(( $$(date +%s) - start )) s (log: $(BUILD_DIR)/build.log)"; \
	  else echo "FAILED:"; tail -n 40 $(BUILD_DIR)/build.log; exit 1; fi
	@deploy/stack.sh run

up: build
	@deploy/stack.sh up

down:
	@deploy/stack.sh down

status:
	@deploy/stack.sh status

migrate: build
	@deploy/stack.sh migrate

test: build
	@$(MAKE) --no-print-directory unit-test sanitize-test fuzz-test integration-test chaos-test container-test test-cluster

unit-test:
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS)

# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize-test:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCHAT_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS) --target chat_unit_tests
	@ctest --test-dir build-asan --output-on-failure -j$(JOBS)

# libFuzzer, for a bounded time each: the WebSocket decoder and handshake parser; the REST input layer (body,
# form, query, path and header readers, URL decoding, JSON, the router).
fuzz-test:
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-30} tests/fuzz/run.sh build-fuzz

integration-test:
	@$(PYTHON) -m pytest tests/integration -q -p no:cacheprovider

# Containers booted with systemd as PID 1 from a cached Debian root (tests/container/nspawn.py; root, and the
# Debian archive for the first build of the root): the harness itself, and the package of make deb installed,
# started, killed, reinstalled and purged (test_deb.py).
container-test: deb
	@$(PYTHON) -m pytest tests/container -q -p no:cacheprovider

# Its own stack, every program killed or crashed under load (about 3 minutes): nothing acknowledged is lost.
chaos-test:
	@$(PYTHON) -m pytest tests/chaos -q -s -p no:cacheprovider

# Simulated hosts on this machine (root: ip netns, about 2 minutes): two application hosts in the stack's external
# mode, PostgreSQL primary and replica, Redis primary and replica, three Sentinels; the Redis primary killed, the
# PostgreSQL replica stopped, an application host cut off, under traffic (tests/cluster/README.md).
test-cluster:
	@CHAT_BUILD_DIR=$(abspath $(BUILD_DIR)) tests/cluster/run.sh

# PostgreSQL durable, as make run has it, then without fsync (BENCH_DURABLE=1 or 0: one of them; tests/bench/run.py).
bench: build
	@$(PYTHON) tests/bench/run.py
	@$(PYTHON) tests/bench/realtime.py

# The programs, migrations, units, nginx templates and docs under PREFIX (default /usr/local; DESTDIR is honoured),
# by CMake's install rules (cmake/package.cmake).
PREFIX ?= /usr/local
install: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS) -- --no-print-directory
	@cmake --install $(BUILD_DIR)

# The Debian package from the same install rules (CPack, prefix /usr): $(BUILD_DIR)/chat_VERSION_ARCH.deb, then lintian.
deb: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS) -- --no-print-directory
	@cd $(BUILD_DIR) && cpack -G DEB >cpack.log 2>&1 || { tail -n 40 cpack.log; exit 1; }
	@deb=$$(ls -t $(BUILD_DIR)/chat_*.deb | head -n1); echo "$$deb"; \
	  lintian --fail-on error,warning "$$deb"

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	@deploy/stack.sh down >/dev/null 2>&1 || true
	@rm -rf $(BUILD_DIR) build-asan build-fuzz
