# The two commands a fresh machine needs: `make run` and `make test`.
PRESET ?= release
JOBS ?= $(shell nproc)

.PHONY: all bootstrap configure build run test asan fuzz bench format check-format clean

all: build

bootstrap:
	@scripts/bootstrap

configure: bootstrap
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

# The demo stack: three fulcrum-echo backends behind fulcrum-proxy (Ctrl-C stops them all).
run: build
	@scripts/run-demo

# Every test: unit, fuzz-corpus replay and integration tests with real processes.
test: build
	@ctest --preset $(PRESET) -j 2

# Unit tests and corpus replays under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: bootstrap
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan -j 2

# libFuzzer targets (clang-14): build/fuzz/fuzz/<target>
fuzz: bootstrap
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

bench: build
	@ls build/$(PRESET)/bench/*/ 2>/dev/null || true

format:
	@scripts/format

check-format:
	@scripts/format --check

clean:
	rm -rf build
