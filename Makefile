# SPDX-License-Identifier: Apache-2.0
# The targets people type.  CMake does the building; this file only names
# the build folder and the steps.
#   make            build (build/)
#   make test       install deps, build, run every test (SANITIZE=1: ASan+UBSan with clang, build-asan/)
#   make demo       install deps, build, run the Tehran-Islamabad scenario
#   make bench      release build, run the benchmarks
#   make fuzz       build the libFuzzer targets and fuzz each for FUZZ_SECONDS
#   make test-faults build, run the long fault-injection run (FAULT_ARGS, e.g. --seed 7;
#                   docs/faults.md)
#   make clean      remove the build folders
SHELL := /bin/bash
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 30

ifeq ($(SANITIZE),1)
BUILD ?= build-asan
CMAKE_FLAGS += -DCMAKE_C_COMPILER=clang -DPARLEY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD ?= build
CMAKE_FLAGS += -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif
ifneq ($(CC_OVERRIDE),)
CMAKE_FLAGS += -DCMAKE_C_COMPILER=$(CC_OVERRIDE)
endif

.PHONY: all build deps test test-faults demo bench fuzz clean format

all: build

build:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps

test: deps
	@$(MAKE) --no-print-directory build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-faults: deps
	@$(MAKE) --no-print-directory build
	@mkdir -p $(BUILD)/tmp
	@PARLEY_BIN=$(abspath $(BUILD))/bin PARLEY_TOOLS=$(abspath $(BUILD))/tests \
		PARLEY_SRC=$(CURDIR) PARLEY_TEST_TMP=$(abspath $(BUILD))/tmp tests/faults/run.sh --control $(FAULT_ARGS)

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo $(BUILD)/bin $(DEMO_ARGS)

bench: deps
	@$(MAKE) --no-print-directory build BUILD=build-release CMAKE_FLAGS=-DCMAKE_BUILD_TYPE=RelWithDebInfo
	@scripts/bench build-release $(ARGS)

fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DPARLEY_FUZZ=ON -DPARLEY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@scripts/fuzz build-fuzz $(FUZZ_SECONDS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-release build-fuzz
