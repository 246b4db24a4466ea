# The two commands of the README:
#   make demo   - set up a fresh Debian 12 machine, build, and run the fleet demo
#   make test   - set up, build, and run every test: normal build, ASan+UBSan build, fuzz smoke, lint
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
SPEC ?= ../shared/spec
DEMO_DEVICES ?= 10

.PHONY: asn1-types all bootstrap build build-asan build-fuzz test test-unit test-asan test-fuzz lint format demo clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build build -j$(JOBS)

build-asan: bootstrap
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSGP32_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)

build-fuzz: bootstrap
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DSGP32_FUZZ=ON -DSGP32_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build build-fuzz -j$(JOBS)

test-unit: build
	ctest --test-dir build --output-on-failure -j$(JOBS)

test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-asan --output-on-failure -j$(JOBS)

test-fuzz: build-fuzz
	ctest --test-dir build-fuzz --output-on-failure -j$(JOBS)

test: lint test-unit test-asan test-fuzz
	@echo "make test: all suites passed (normal, ASan+UBSan, fuzz smoke, lint)"

lint: bootstrap
	@scripts/lint

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

# The fleet demo (scripts/demo): eimd + smdpd + DEMO_DEVICES simulated devices on localhost. From a
# terminal it keeps running after the summary until Ctrl-C; otherwise its exit status says whether
# everything went as planned.
demo: build
	@python3 scripts/demo --build build --devices $(DEMO_DEVICES)

clean:
	rm -rf build build-asan build-fuzz

# Regenerate the ASN.1 type tables from the schema (committed; a test checks they are current).
asn1-types:
	python3 scripts/asn1gen.py $(SPEC)/asn1 include/sgp32/asn1_types.h lib/asn1/asn1_types.c
	clang-format -i include/sgp32/asn1_types.h lib/asn1/asn1_types.c
