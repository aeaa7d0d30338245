# wagi-c build. `make` builds build/wagi; see README for the rest.
# Source files are picked up by wildcard: adding a .c file needs no edit here.
#
#   make            build/wagi (the CLI)
#   make test       setup + everything with $(WERROR), unit + spec + robustness,
#                   one final "N passed, N failed" line
#   make san        the same suites under ASan+UBSan, built in build-san/
#   make unit | spectest | fuzz | fuzz-libfuzzer | libfuzzertest | fuzz-diff [N=1000] | faulttest | eventgridtest | guesttest | tflitetest | fuzz-tflite | azuretest | tftest | wasitest | wasitestsuite | servertest | servertest-aot | check-layers | bench | bench-compile | bench-eventgrid | bench-tf | demo | demo-stop | clean | setup

CC       ?= cc
WERROR   ?=
OPT      ?= -O2

# SANITIZE=1 (used by `make san`): ASan+UBSan build in its own directory.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ifneq ($(SANITIZE),)
OPT      := -O1
BUILD    ?= build-san
endif

CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -Isrc -pthread
LDFLAGS  += -pthread
# -ldw -lelf (elfutils, libdw-dev): the AOT tier reads the C compiler's line table (trap map)
LDLIBS   += -lm -ldl -ldw -lelf
ifneq ($(SANITIZE),)
CFLAGS   += $(SAN_FLAGS)
LDFLAGS  += $(SAN_FLAGS)
endif

BUILD    ?= build
OBJ      := $(BUILD)/obj

# Objects depend on this stamp, rewritten only when the compiler or flags
# change, so that e.g. `make test WERROR=-Werror` recompiles everything.
FLAGS_STAMP := $(BUILD)/.flags
$(shell mkdir -p $(BUILD) && { echo '$(CC) $(CFLAGS) $(LDFLAGS)' | cmp -s - $(FLAGS_STAMP) || echo '$(CC) $(CFLAGS) $(LDFLAGS)' > $(FLAGS_STAMP); })

BASE_SRC := $(wildcard src/base/*.c)
BASE_OBJ := $(BASE_SRC:%.c=$(OBJ)/%.o)
WASM_SRC := $(wildcard src/wasm/*.c)
WASM_OBJ := $(WASM_SRC:%.c=$(OBJ)/%.o)
CLI_SRC  := $(wildcard src/cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(OBJ)/%.o)
WASI_SRC := $(wildcard src/wasi/*.c)
WASI_OBJ := $(WASI_SRC:%.c=$(OBJ)/%.o)
SERVER_SRC := $(wildcard src/server/*.c)
SERVER_OBJ := $(SERVER_SRC:%.c=$(OBJ)/%.o)
SERVER_LIBS := -lmicrohttpd -lcrypto
# Outbound HTTP for modules (wasi_experimental_http), on libcurl.
HTTP_SRC := $(wildcard src/http/*.c)
HTTP_OBJ := $(HTTP_SRC:%.c=$(OBJ)/%.o)
HTTP_LIBS := -lcurl
# `wagi eventgrid`: a local Event Grid topic (JSON through cJSON, SAS tokens
# through OpenSSL's HMAC).
EG_SRC := $(wildcard src/eventgrid/*.c)
EG_OBJ := $(EG_SRC:%.c=$(OBJ)/%.o)
EG_LIBS := -lcjson -lcrypto -lcurl
SPEC_SRC := $(wildcard tests/spec/*.c)
SPEC_OBJ := $(SPEC_SRC:%.c=$(OBJ)/%.o)

# Unit tests: each tests/unit/test_*.c is its own cmocka binary. Modules they
# embed are tests/unit/wat/*.wat, turned into byte-array headers at build time.
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit/%)
UNIT_OBJ := $(UNIT_SRC:%.c=$(OBJ)/%.o)
UNIT_WAT := $(wildcard tests/unit/wat/*.wat)
UNIT_WASM := $(UNIT_WAT:tests/unit/wat/%.wat=$(BUILD)/unit/wat/%.wasm)
UNIT_GEN := $(UNIT_WAT:tests/unit/wat/%.wat=$(BUILD)/unit/gen/%_wasm.h)

FUZZ_BIN := $(BUILD)/fuzz-mutate
BENCH_BIN := $(BUILD)/bench-engine

# ASan and the engine's guard-page SIGSEGV handler (memory.c): with
# allow_user_segv_handler=1 the engine's handler is installed over ASan's and
# turns wasm out-of-bounds faults into traps; any other fault is chained to
# the previous handler, i.e. ASan's (handle_segv=1), which prints its report.
SAN_ENV  := ASAN_OPTIONS=handle_segv=1:handle_sigbus=1:allow_user_segv_handler=1:detect_leaks=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

RUN_SUITE := bash scripts/run-suite.sh
LOGS      = $(BUILD)/test-logs

.PHONY: all clean test spectest unit fuzz demo demo-stop bench setup san examples demo-build \
        check-layers run-layers bench-eventgrid bench-compile \
        test-build run-unit run-spectest run-fuzz wasitest run-wasitest wasitestsuite run-wasitestsuite \
        servertest run-servertest httptest run-httptest run-enginewast eventgridtest run-eventgridtest \
        azuretest run-azuretest aottest run-aottest run-spectest-aot run-enginewast-aot run-wasitest-aot \
        servertest-aot run-servertest-aot faulttest run-faulttest
all: $(BUILD)/wagi

$(OBJ)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libbase.a: $(BASE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The AOT runtime embeds the headers that generated code includes, and an
# id of the translator (its source and those headers) that names cached
# native code, so that a new wagi does not reuse an older one's.
AOT_HEADERS := $(BUILD)/gen/aot_headers.h
AOT_GEN_SRC := src/wasm/aot_gen.c src/wasm/aot_abi.h src/wasm/numops.h src/wasm/simd_ops.h
$(AOT_HEADERS): $(AOT_GEN_SRC) scripts/bin2c.sh
	@mkdir -p $(dir $@)
	{ bash scripts/bin2c.sh src/wasm/aot_abi.h aot_abi_h; \
	  bash scripts/bin2c.sh src/wasm/numops.h numops_h; \
	  bash scripts/bin2c.sh src/wasm/simd_ops.h simd_ops_h; \
	  echo "#define WAGI_AOT_GEN_ID \"$$(cat $(AOT_GEN_SRC) | sha256sum | cut -c1-16)\""; \
	} > $@.tmp && mv $@.tmp $@
$(OBJ)/src/wasm/aot.o: $(AOT_HEADERS)
$(OBJ)/src/wasm/aot.o: CFLAGS += -I$(BUILD)/gen

$(BUILD)/libwasm.a: $(WASM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libwasi.a: $(WASI_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libsrv.a: $(SERVER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libhttp.a: $(HTTP_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libeg.a: $(EG_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/wagi: $(CLI_OBJ) $(BUILD)/libeg.a $(BUILD)/libsrv.a $(BUILD)/libhttp.a $(BUILD)/libwasi.a $(BUILD)/libwasm.a $(BUILD)/libbase.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(SERVER_LIBS) $(HTTP_LIBS) $(EG_LIBS)

$(BUILD)/spectest: $(SPEC_OBJ) $(BUILD)/libwasm.a $(BUILD)/libbase.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcjson

# ---- unit tests ------------------------------------------------------------

# Static pattern rules (explicit targets): with plain pattern rules make would
# prefer the generic %.o rule over a chain that first generates the headers.
$(UNIT_WASM): $(BUILD)/unit/wat/%.wasm: tests/unit/wat/%.wat
	@mkdir -p $(dir $@)
	wat2wasm --enable-all $< -o $@

$(UNIT_GEN): $(BUILD)/unit/gen/%_wasm.h: $(BUILD)/unit/wat/%.wasm scripts/bin2c.sh
	@mkdir -p $(dir $@)
	bash scripts/bin2c.sh $< $*_wasm > $@

$(UNIT_OBJ): $(OBJ)/tests/unit/%.o: tests/unit/%.c $(UNIT_GEN) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/unit/gen -MMD -MP -c $< -o $@

$(UNIT_BIN): $(BUILD)/unit/%: $(OBJ)/tests/unit/%.o $(BUILD)/libwasi.a $(BUILD)/libwasm.a $(BUILD)/libbase.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(BUILD)/libbase.a -lcmocka

# test_cli runs the wagi binary on the modules in $(BUILD)/unit/wat/.
$(BUILD)/unit/test_cli: | $(BUILD)/wagi $(UNIT_WASM)

# The server's request-semantics tests link the objects they test.
SRV_SEM_OBJ := $(OBJ)/src/server/route.o $(OBJ)/src/server/cgi.o $(OBJ)/src/server/response.o
$(BUILD)/unit/test_route $(BUILD)/unit/test_cgi $(BUILD)/unit/test_response: $(SRV_SEM_OBJ)

# The runners' test links pool.c alone (no HTTP, no engine calls).
$(BUILD)/unit/test_pool: $(OBJ)/src/server/pool.o

# The TOML parser and modules.toml loader tests link the objects they test.
SRV_CFG_OBJ := $(OBJ)/src/server/toml.o $(OBJ)/src/server/config.o
$(BUILD)/unit/test_toml $(BUILD)/unit/test_config: $(SRV_CFG_OBJ)

# The outbound-HTTP tests link the http layer, the allow-list of config.c
# and libcurl.
HTTP_UNIT_BIN := $(filter $(BUILD)/unit/test_http%,$(UNIT_BIN))
$(HTTP_UNIT_BIN): $(BUILD)/libhttp.a $(SRV_CFG_OBJ)
$(HTTP_UNIT_BIN): LDLIBS += $(BUILD)/libwasm.a $(BUILD)/libbase.a $(HTTP_LIBS)

# ---- robustness and benchmark drivers ---------------------------------------

$(FUZZ_BIN): $(OBJ)/tests/fuzz/mutate.o $(BUILD)/libwasm.a $(BUILD)/libbase.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BENCH_BIN): $(OBJ)/bench/bench_engine.o $(BUILD)/libwasm.a $(BUILD)/libbase.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Per-request argv/env + WASI context cost (bench/bench_ctx.c).
$(BUILD)/bench-ctx: $(OBJ)/bench/bench_ctx.o $(OBJ)/src/server/cgi.o $(BUILD)/libwasi.a $(BUILD)/libwasm.a $(BUILD)/libbase.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Per-request instantiate / _start / free of a WASI module (bench_instance.c).
$(BUILD)/bench-instance: $(OBJ)/bench/bench_instance.o $(BUILD)/libwasi.a $(BUILD)/libwasm.a $(BUILD)/libbase.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Load generator and webhook subscriber for bench/eventgrid/run.sh.
$(BUILD)/egload: $(OBJ)/bench/eventgrid/egload.o
	$(CC) $(LDFLAGS) -o $@ $^

# AOT translator test tool (tests/aotgen): `build/aot-gen M.wasm -o M.c`;
# `make aotgen-check` translates every module of the spec suite (run
# `make spectest` first: it converts the .wast files) and compiles each C file.
$(BUILD)/aot-gen: $(OBJ)/tests/aotgen/gen_main.o $(BUILD)/libwasm.a $(BUILD)/libbase.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcrypto
.PHONY: aotgen-check
aotgen-check: $(BUILD)/aot-gen
	bash tests/aotgen/compile_all.sh $(BUILD)

# ---- top-level targets -------------------------------------------------------

setup:
	@bash scripts/setup.sh

test-build: $(BUILD)/wagi $(BUILD)/spectest $(UNIT_BIN) $(FUZZ_BIN) $(BUILD)/aot-diffrun examples

# Each suite runs even when the build or an earlier suite failed:
# run-suite.sh keeps each suite's log and guarantees a summary line (a
# missing binary or a crash counts as a failure), test-summary.sh adds them
# up, prints the one final line and sets the exit status.
test: setup
	@rm -rf $(LOGS) && mkdir -p $(LOGS)
	@$(call build-step,$(LOGS))
	@$(MAKE) --no-print-directory run-layers run-unit run-spectest run-enginewast run-fuzz run-libfuzzer run-wasitest run-wasitestsuite run-servertest run-faulttest run-httptest run-eventgridtest run-guesttest run-tflitetest run-azuretest run-tftest \
	  run-spectest-aot run-enginewast-aot run-wasitest-aot run-servertest-aot run-aottest run-fuzzdiff
	@bash scripts/test-summary.sh $(LOGS)

# build-step LOGDIR,MAKEARGS: build everything (keep going past errors) and record
# the outcome as a pseudo-suite: a failed build is one failure. Builds with
# one job per core unless make was given -j already.
BUILD_JOBS = $(if $(findstring -j,$(MAKEFLAGS))$(findstring jobserver,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 2))
define build-step
if $(MAKE) --no-print-directory $(BUILD_JOBS) -k $(2) test-build; then \
  echo "SUMMARY build: 0 passed, 0 failed" > $(1)/build.log; \
else \
  echo "SUMMARY build: 0 passed, 1 failed (build errors above)" > $(1)/build.log; \
fi
endef

# The layer rules of DEVELOPERS.md on every #include (scripts/check-layers.py).
check-layers:
	@python3 scripts/check-layers.py

run-layers:
	@$(RUN_SUITE) layers $(LOGS)/layers.log python3 scripts/check-layers.py

run-unit:
	@$(RUN_SUITE) unit $(LOGS)/unit.log bash scripts/run-unit.sh $(UNIT_BIN)

run-spectest:
	@$(RUN_SUITE) spec $(LOGS)/spec.log $(BUILD)/spectest $(if $(WASM_TESTSUITE),--suite $(WASM_TESTSUITE))

# The same suites on the native tier: every module through the translator and
# cc, cached by digest in $(AOT_CACHE) (a clean build compiles the whole
# spec suite in about a minute on 2 cores).
AOT_CACHE := $(BUILD)/aot-cache
run-spectest-aot:
	@mkdir -p -m 700 $(AOT_CACHE)
	@$(RUN_SUITE) spec-aot $(LOGS)/spec-aot.log $(BUILD)/spectest --tier aot --aot-cache $(AOT_CACHE)/spec $(if $(WASM_TESTSUITE),--suite $(WASM_TESTSUITE))

run-enginewast-aot:
	@mkdir -p -m 700 $(AOT_CACHE)
	@$(RUN_SUITE) enginewast-aot $(LOGS)/enginewast-aot.log $(BUILD)/spectest --tier aot --aot-cache $(AOT_CACHE)/spec --suite tests/engine

run-wasitest-aot:
	@mkdir -p -m 700 $(AOT_CACHE) $(AOT_CACHE)/run
	@$(RUN_SUITE) wasi-aot $(LOGS)/wasi-aot.log env WAGI_TIER=aot WAGI_MODULE_CACHE=$(abspath $(AOT_CACHE))/run $(WASI_TEST)

# Engine-specific .wast files (fused instructions, local zeroing).
run-enginewast:
	@$(RUN_SUITE) enginewast $(LOGS)/enginewast.log $(BUILD)/spectest --suite tests/engine

run-fuzz:
	@$(RUN_SUITE) fuzz $(LOGS)/fuzz.log $(FUZZ_BIN) $(FUZZ_ARGS)

# WASI programs (built by the driver with clang-16 into $(BUILD)/wasi-tests/)
# run through `$(BUILD)/wagi run`, plus escape attempts; see tests/wasi/.
WASI_TEST := env BUILD=$(BUILD) /usr/bin/python3 tests/wasi/run_tests.py

run-wasitest:
	@$(RUN_SUITE) wasi $(LOGS)/wasi.log $(WASI_TEST)

wasitest: $(BUILD)/wagi
	@$(WASI_TEST)

# The official WASI suite (prebuilt tests in ../shared/wasi-testsuite, or
# WASI_TESTSUITE=DIR; skipped with a message when absent) through
# `$(BUILD)/wagi run`; known failures are listed in the runner.
WASI_SUITE_TEST := env BUILD=$(BUILD) $(if $(WASI_TESTSUITE),WASI_TESTSUITE=$(WASI_TESTSUITE)) /usr/bin/python3 tests/wasi/run_testsuite.py

run-wasitestsuite:
	@$(RUN_SUITE) wasi-testsuite $(LOGS)/wasi-testsuite.log $(WASI_SUITE_TEST)

wasitestsuite: $(BUILD)/wagi
	@$(WASI_SUITE_TEST)

# Server integration tests (pytest, tests/server/): the real $(BUILD)/wagi on
# loopback ports, test modules built into $(BUILD)/server-tests/.
SERVER_TEST := env WAGI_BUILD=$(BUILD) bash scripts/run-pytest.sh servertest tests/server

run-servertest:
	@$(RUN_SUITE) server $(LOGS)/server.log $(SERVER_TEST)

servertest: $(BUILD)/wagi
	@$(SERVER_TEST)

# The same suite on the native tier: every server started with --tier aot,
# which compiles each module before listening, into one module cache for
# the session (tests/server/conftest.py, WAGI_TEST_TIER). Tests of --tier
# auto's background compiler skip, saying why.
SERVER_TEST_AOT := env WAGI_BUILD=$(BUILD) WAGI_TEST_TIER=aot bash scripts/run-pytest.sh servertest-aot tests/server

run-servertest-aot:
	@$(RUN_SUITE) server-aot $(LOGS)/server-aot.log $(SERVER_TEST_AOT)

servertest-aot: $(BUILD)/wagi
	@$(SERVER_TEST_AOT)

# The malloc fault test (pytest, tests/fault/, issue 20): the real
# $(BUILD)/wagi with tests/fault/failmalloc.so preloaded answers a request
# mix while allocations fail at seeded random points: right answers or
# well-formed 500/503 only, alive and right again afterwards, no leak (the
# shim's count of live blocks; LeakSanitizer too under `make san`), a clean
# SIGTERM. About 15 s.
FAULT_TEST := env WAGI_BUILD=$(BUILD) bash scripts/run-pytest.sh faulttest tests/fault

run-faulttest:
	@$(RUN_SUITE) fault $(LOGS)/fault.log $(FAULT_TEST)

faulttest: $(BUILD)/wagi
	@$(FAULT_TEST)

# Outbound-HTTP integration tests (pytest, tests/http/): the real
# $(BUILD)/wagi with modules built on guest/ calling loopback upstreams.
HTTP_TEST := env WAGI_BUILD=$(BUILD) bash scripts/run-pytest.sh httptest tests/http

run-httptest:
	@$(RUN_SUITE) http $(LOGS)/http.log $(HTTP_TEST)

httptest: $(BUILD)/wagi
	@$(HTTP_TEST)

# `wagi eventgrid` integration tests (pytest, tests/eventgrid/): the real
# $(BUILD)/wagi eventgrid on loopback ports.
EVENTGRID_TEST := env WAGI_BUILD=$(BUILD) bash scripts/run-pytest.sh eventgridtest tests/eventgrid

run-eventgridtest:
	@$(RUN_SUITE) eventgrid $(LOGS)/eventgrid.log $(EVENTGRID_TEST)

eventgridtest: $(BUILD)/wagi
	@$(EVENTGRID_TEST)

# Guest SDK (guest/, issue 17): tests/guest/test_*.c are cmocka binaries built
# natively with gcc from guest/src (all but wagi_http.c and wagi_azure.c,
# which call the host's wasi_experimental_http and only exist for wasm32-wasi); tests/guest/selftest.c links every guest/src file for
# wasm32-wasi and runs through `$(BUILD)/wagi run` against Python's hashlib,
# hmac, base64, json, ... (tests/guest/run_tests.py). Guest code is built
# -Werror always: it must stay warning-free on both compilers.
.PHONY: guesttest run-guesttest
GUEST_SRC := $(wildcard guest/src/*.c)
GUEST_HDR := $(wildcard guest/include/*.h)
GUEST_NATIVE_SRC := $(filter-out guest/src/wagi_http.c guest/src/wagi_azure.c,$(GUEST_SRC))
GUEST_TEST_BIN := $(patsubst tests/guest/%.c,$(BUILD)/guest/%,$(wildcard tests/guest/test_*.c))
GUEST_SELFTEST := $(BUILD)/guest/selftest.wasm
GUEST_CFLAGS := $(OPT) -g -std=c11 -Wall -Wextra -Werror -Iguest/include $(if $(SANITIZE),$(SAN_FLAGS))

$(GUEST_TEST_BIN): $(BUILD)/guest/%: tests/guest/%.c $(GUEST_NATIVE_SRC) $(GUEST_HDR) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $< $(GUEST_NATIVE_SRC) -o $@ -lcmocka -lm

$(GUEST_SELFTEST): tests/guest/selftest.c $(GUEST_SRC) $(GUEST_HDR)
	@mkdir -p $(dir $@)
	$(WASM_CC) --target=wasm32-wasi -O2 -std=c11 -Wall -Wextra -Werror -Iguest/include \
	  $< $(GUEST_SRC) -o $@ -Wl,--strip-all

GUEST_TEST = /usr/bin/python3 tests/guest/run_tests.py --wagi $(BUILD)/wagi --wasm $(GUEST_SELFTEST) $(GUEST_TEST_BIN)

guesttest: $(GUEST_TEST_BIN) $(GUEST_SELFTEST) $(BUILD)/wagi
	@$(GUEST_TEST)

# Builds what it needs itself, so a build error shows as a failed suite.
run-guesttest:
	@$(RUN_SUITE) guest $(LOGS)/guest.log $(MAKE) --no-print-directory guesttest

# wagi_tflite (issue 19): its cmocka binaries (tests/guest/test_tflite_*.c)
# run in guesttest with the others; tflitetest runs tests/guest/tflite_run.c
# built for wasm32-wasi with SIMD128 through `$(BUILD)/wagi run` and compares
# its output bytes with the same program built natively (models from
# ../shared/models or WAGI_MODELS; skipped with a message without them).
# TFLITE_AOT=1 adds the AOT tier (wagi compile, about 30 s more).
.PHONY: tflitetest run-tflitetest
TFLITE_SRC := guest/src/wagi_tflite.c guest/src/wagi_tflite_ops.c guest/src/wagi_tflite_resize.c
TFLITE_RUN_SRC := $(TFLITE_SRC) guest/src/wagi_io.c
TFLITE_RUN_WASM := $(BUILD)/guest/tflite_run.wasm
TFLITE_RUN_NATIVE := $(BUILD)/guest/tflite_run
# the same program natively with the SIMD128 kernels, through SIMDe
# (guest/src/wagi_simd128.h): they run under ASan/UBSan in `make san` too
TFLITE_RUN_SIMDE := $(BUILD)/guest/tflite_run_simde

$(BUILD)/guest/test_tflite_ops $(BUILD)/guest/test_tflite_model: tests/guest/tflite_reference.h

$(TFLITE_RUN_WASM): tests/guest/tflite_run.c $(TFLITE_RUN_SRC) $(GUEST_HDR)
	@mkdir -p $(dir $@)
	$(WASM_CC) --target=wasm32-wasi -O2 -msimd128 -std=c11 -Wall -Wextra -Werror -Iguest/include \
	  $< $(TFLITE_RUN_SRC) -o $@ -Wl,--strip-all

$(TFLITE_RUN_NATIVE): tests/guest/tflite_run.c $(TFLITE_RUN_SRC) $(GUEST_HDR) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $< $(TFLITE_RUN_SRC) -o $@ -lm

$(TFLITE_RUN_SIMDE): tests/guest/tflite_run.c $(TFLITE_RUN_SRC) $(GUEST_HDR) guest/src/wagi_simd128.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -DWAGI_GUEST_SIMDE $< $(TFLITE_RUN_SRC) -o $@ -lm

TFLITE_TEST = /usr/bin/python3 tests/guest/run_tflite.py --wagi $(BUILD)/wagi --wasm $(TFLITE_RUN_WASM) \
  --native $(TFLITE_RUN_NATIVE) --native-simd $(TFLITE_RUN_SIMDE) $(if $(TFLITE_AOT),--aot)

tflitetest: $(TFLITE_RUN_WASM) $(TFLITE_RUN_NATIVE) $(TFLITE_RUN_SIMDE) $(BUILD)/wagi
	@$(TFLITE_TEST)

run-tflitetest:
	@$(RUN_SUITE) tflite $(LOGS)/tflite.log $(MAKE) --no-print-directory tflitetest

# libFuzzer target for the model reader (tests/fuzz/tflite_fuzz.c, see
# tests/fuzz/README.md): a fixed number of runs from the seed corpus that
# tests/fuzz/make_tflite_seeds.py writes (small models using all six
# operators, plus heads of the real model when ../shared/models has it);
# what it finds goes to $(BUILD)/fuzz-tflite/. TFLITE_FUZZ_RUNS=N.
.PHONY: fuzz-tflite
TFLITE_FUZZ := $(BUILD)/fuzz-tflite/tflite_fuzz
TFLITE_FUZZ_RUNS ?= 20000
$(TFLITE_FUZZ): tests/fuzz/tflite_fuzz.c $(TFLITE_SRC) $(GUEST_HDR)
	@mkdir -p $(dir $@)
	$(WASM_CC) -g -O1 -std=c11 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -Iguest/include $< $(TFLITE_SRC) -o $@ -lm

# The same with the SIMD128 kernels natively through SIMDe, so that they
# meet the reader's odd shapes too (they share the corpus).
TFLITE_FUZZ_SIMD := $(BUILD)/fuzz-tflite/tflite_fuzz_simd
$(TFLITE_FUZZ_SIMD): tests/fuzz/tflite_fuzz.c $(TFLITE_SRC) $(GUEST_HDR) guest/src/wagi_simd128.h
	@mkdir -p $(dir $@)
	$(WASM_CC) -g -O1 -std=c11 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -DWAGI_GUEST_SIMDE -Iguest/include $< $(TFLITE_SRC) -o $@ -lm

fuzz-tflite: $(TFLITE_FUZZ) $(TFLITE_FUZZ_SIMD)
	@mkdir -p $(BUILD)/fuzz-tflite/corpus $(BUILD)/fuzz-tflite/seeds $(BUILD)/fuzz-tflite/findings
	/usr/bin/python3 tests/fuzz/make_tflite_seeds.py $(BUILD)/fuzz-tflite/seeds \
	  $(or $(WAGI_MODELS),../shared/models)/mobilenet_v2_1.0_224_quant.tflite
	cd $(BUILD)/fuzz-tflite && for f in tflite_fuzz tflite_fuzz_simd; do \
	  ./$$f -runs=$(TFLITE_FUZZ_RUNS) -seed=19 -max_len=8192 -timeout=20 \
	  -artifact_prefix=findings/$$f- corpus seeds $(CURDIR)/tests/fuzz/tflite_regressions || exit 1; done

# Coverage-guided fuzz targets for the host (tests/fuzz/fuzz_*.c, issue 20;
# see tests/fuzz/README.md): the engine's loader and translators, running
# modules, the TOML parser and modules.toml loader, the CGI response parser,
# the outbound-HTTP argument checks, WASI path resolution. Each links the
# project's sources compiled again with clang-16 and
# -fsanitize=fuzzer-no-link,address,undefined into $(FZ)/obj.
#   make fuzz-libfuzzer SECONDS=N   each target N s in turn (corpus kept in
#                                   $(FZ)/corpus/<target>/)
#   make libfuzzertest              a fixed number of runs of each with a
#                                   fixed seed, plus every regression input
.PHONY: fuzz-libfuzzer libfuzzertest run-libfuzzer fuzz-libfuzzer-build
FZ        := $(BUILD)/fuzz-libfuzzer
FZ_OBJ    := $(FZ)/obj
FZ_CC     := clang-16
FZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc -pthread $(FZ_SAN)
FZ_TARGETS := wasm_load wasm_exec toml cgi http_args wasi_path
FZ_BINS   := $(FZ_TARGETS:%=$(FZ)/fuzz_%)
SECONDS   ?= 60
FZ_RUNS   ?= 2000
FZ_LIB     = $(FZ)/lib$(1).a

$(FZ_OBJ)/%.o: %.c $(AOT_HEADERS)
	@mkdir -p $(dir $@)
	$(FZ_CC) $(FZ_CFLAGS) -fsanitize=fuzzer-no-link -I$(BUILD)/gen -MMD -MP -c $< -o $@

define fz-lib
$(FZ)/lib$(1).a: $(patsubst %.c,$(FZ_OBJ)/%.o,$(wildcard src/$(1)/*.c))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach l,base wasm wasi http server,$(eval $(call fz-lib,$(l))))

# The WASI driver module (imports of the path functions, thin exports).
$(FZ)/gen/wasi_path_driver_wasm.h: tests/fuzz/wasi_path_driver.wat scripts/bin2c.sh
	@mkdir -p $(dir $@)
	wat2wasm $< -o $(FZ)/gen/wasi_path_driver.wasm
	bash scripts/bin2c.sh $(FZ)/gen/wasi_path_driver.wasm wasi_path_driver_wasm > $@
$(FZ_OBJ)/tests/fuzz/fuzz_wasi_path.o: $(FZ)/gen/wasi_path_driver_wasm.h
$(FZ_OBJ)/tests/fuzz/fuzz_wasi_path.o: FZ_CFLAGS += -I$(FZ)/gen

FZ_ENGINE_LIBS := $(call FZ_LIB,wasm) $(call FZ_LIB,base)
$(FZ)/fuzz_wasm_load: $(FZ_ENGINE_LIBS)
$(FZ)/fuzz_wasm_exec: $(call FZ_LIB,wasi) $(call FZ_LIB,http) $(FZ_ENGINE_LIBS)
$(FZ)/fuzz_toml: $(call FZ_LIB,server) $(FZ_ENGINE_LIBS)
$(FZ)/fuzz_cgi: $(call FZ_LIB,server) $(FZ_ENGINE_LIBS)
$(FZ)/fuzz_http_args: $(call FZ_LIB,http) $(call FZ_LIB,server) $(FZ_ENGINE_LIBS)
$(FZ)/fuzz_wasi_path: $(call FZ_LIB,wasi) $(FZ_ENGINE_LIBS)
$(FZ_BINS): $(FZ)/fuzz_%: $(FZ_OBJ)/tests/fuzz/fuzz_%.o
	$(FZ_CC) $(FZ_SAN) -fsanitize=fuzzer -pthread -o $@ $^ \
	  -lm -ldl -ldw -lelf -lcurl -lcrypto -lmicrohttpd

fuzz-libfuzzer-build: $(FZ_BINS)

# They build with the rest of `make test` when clang-16's fuzzer runtime is
# installed (setup.sh installs it; `make san` does not run them: they carry
# their own sanitizers); run-libfuzzer skips, saying so, without.
FZ_HAVE_RUNTIME := $(wildcard /usr/lib/llvm-16/lib/clang/16/lib/linux/libclang_rt.fuzzer-x86_64.a)
test-build: $(if $(SANITIZE),,$(if $(FZ_HAVE_RUNTIME),$(FZ_BINS)))

# Seeds: the spec suite's modules (WASM_TESTSUITE, default
# ../shared/wasm-testsuite; without it the script says so and uses only the
# project's own modules), examples, configs and module outputs.
FZ_SEEDS = /usr/bin/python3 tests/fuzz/make_libfuzzer_seeds.py --out $(FZ)/seeds --build $(BUILD) \
  $(if $(WASM_TESTSUITE),--suite $(WASM_TESTSUITE))

fuzz-libfuzzer: $(FZ_BINS)
	@$(FZ_SEEDS)
	@rm -rf $(FZ)/tmp && mkdir -p $(FZ)/tmp
	@for t in $(FZ_TARGETS); do \
	  mkdir -p $(FZ)/corpus/$$t $(FZ)/findings/$$t; \
	  echo "== fuzz_$$t: $(SECONDS) s"; \
	  TMPDIR=$(abspath $(FZ)/tmp) nice -n 10 $(FZ)/fuzz_$$t -max_total_time=$(SECONDS) -timeout=10 -rss_limit_mb=4096 \
	    -artifact_prefix=$(FZ)/findings/$$t/ -print_final_stats=1 \
	    $(FZ)/corpus/$$t $(FZ)/seeds/$$t $$(ls -d tests/fuzz/regressions/$$t 2>/dev/null) 2>&1 | tail -n 25; \
	done

LIBFUZZER_TEST = env FZ=$(FZ) FZ_RUNS=$(FZ_RUNS) bash tests/fuzz/run_libfuzzer.sh $(FZ_TARGETS)

libfuzzertest:
	@$(LIBFUZZER_TEST)

# Builds what it needs itself (when clang-16's fuzzer runtime is there), so a
# build error shows as a failed suite.
run-libfuzzer:
	@$(RUN_SUITE) libfuzzer $(LOGS)/libfuzzer.log $(LIBFUZZER_TEST)

# The Azure guest SDK and the handler/webhook examples (pytest,
# tests/azure/): signing against the official SDKs, and the seed's flow on
# Azurite, the Cosmos DB stand-in, wagi eventgrid and wagi (Node packages
# from node/; skipped with a message when they are missing).
AZURE_TEST := env WAGI_BUILD=$(BUILD) bash scripts/run-pytest.sh azuretest tests/azure

run-azuretest:
	@$(RUN_SUITE) azure $(LOGS)/azure.log $(AZURE_TEST)

azuretest: $(BUILD)/wagi examples
	@$(AZURE_TEST)

# The tf example (examples/tf, issue 19; pytest, tests/tf/): the real wagi
# serving /infer with the Cosmos DB stand-in (tests/azure's stack): the four
# photos of ../shared/models (WAGI_MODELS; those tests skip without it), the
# cache hit, bad images, bad models, Cosmos DB down. WAGI_TEST_TIER=aot runs
# the module as native code.
.PHONY: tftest run-tftest
TF_TEST := env WAGI_BUILD=$(BUILD) bash scripts/run-pytest.sh tftest tests/tf

run-tftest:
	@$(RUN_SUITE) tf $(LOGS)/tf.log $(TF_TEST)

tftest: $(BUILD)/wagi examples
	@$(TF_TEST)

# The AOT tier through the CLI and the server (pytest, tests/aot/):
# wagi compile, .wasmc checks, same results and traps as the interpreter.
AOT_TEST := env WAGI_BUILD=$(BUILD) bash scripts/run-pytest.sh aottest tests/aot

run-aottest:
	@$(RUN_SUITE) aot $(LOGS)/aot.log $(AOT_TEST)

aottest: $(BUILD)/wagi $(BUILD)/aot-diffrun examples
	@$(AOT_TEST)

# Differential fuzzing against V8 (tests/diff/, issue 20): seeded binaryen
# translate-to-fuzz modules on the interpreter, on Node's V8 and, every
# AOT_EVERY-th seed, as native code; ends with "N modules, D disagreements".
# `make fuzz-diff N=1000 [START=1] [AOT_EVERY=20] [JOBS=1]`. The suite in
# `make test` runs a fixed 40 seeds, 4 of them as native code too.
.PHONY: fuzz-diff run-fuzzdiff
N ?= 1000
START ?= 1
AOT_EVERY ?= 20
JOBS ?= 1
FUZZ_DIFF := env WAGI_BUILD=$(BUILD) /usr/bin/python3 tests/diff/fuzz_diff.py

fuzz-diff: $(BUILD)/wagi $(BUILD)/aot-diffrun
	@$(FUZZ_DIFF) -n $(N) --start $(START) --aot-every $(AOT_EVERY) --jobs $(JOBS) --progress 500

run-fuzzdiff:
	@$(RUN_SUITE) fuzzdiff $(LOGS)/fuzzdiff.log $(FUZZ_DIFF) --suite -n 40 --start 1 --aot-every 10

# Runs a binaryen fuzz module on either tier and prints what it does.
$(BUILD)/aot-diffrun: $(OBJ)/tests/aot/diffrun.o $(BUILD)/libwasm.a $(BUILD)/libbase.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(UNIT_BIN)
	@bash scripts/run-unit.sh $(UNIT_BIN)

# TIER=aot: every module as native code (compiled once into $(AOT_CACHE)/spec).
spectest: $(BUILD)/spectest
	$(if $(filter aot,$(TIER)),@mkdir -p -m 700 $(AOT_CACHE))
	$(BUILD)/spectest $(if $(filter aot,$(TIER)),--tier aot --aot-cache $(AOT_CACHE)/spec) $(if $(WASM_TESTSUITE),--suite $(WASM_TESTSUITE))

fuzz: $(FUZZ_BIN)
	$(FUZZ_BIN) $(FUZZ_ARGS)

san: setup
	@rm -rf build-san/test-logs && mkdir -p build-san/test-logs
	@$(call build-step,build-san/test-logs,SANITIZE=1)
	@$(SAN_ENV) $(MAKE) --no-print-directory SANITIZE=1 \
	  run-unit run-spectest run-enginewast run-fuzz run-wasitest run-wasitestsuite run-servertest run-faulttest run-httptest \
	  run-eventgridtest run-guesttest run-tflitetest run-azuretest run-tftest run-spectest-aot run-enginewast-aot run-wasitest-aot \
	  run-servertest-aot run-aottest run-fuzzdiff
	@bash scripts/test-summary.sh build-san/test-logs

bench: setup $(BENCH_BIN) $(BUILD)/wagi $(BUILD)/egload $(BUILD)/aot-gen
	BUILD=$(BUILD) bash bench/run.sh
	BUILD=$(BUILD) bash bench/compile/run.sh
	BUILD=$(BUILD) bash bench/eventgrid/run.sh

# Compile time and memory for a ~1 MB module on every tier and peer alone
# (about 3 min; `make bench` runs it after the kernels).
bench-compile: setup $(BENCH_BIN) $(BUILD)/wagi $(BUILD)/aot-gen
	BUILD=$(BUILD) bash bench/compile/run.sh

# The tf example (examples/tf) end to end, cold and cached, on both tiers,
# and its inference alone against native gcc -O2 and Debian's Arm NN (which
# the script installs with apt-get when missing); about 3 minutes.
.PHONY: bench-tf
bench-tf: setup $(BUILD)/wagi $(BUILD)/examples/tf.wasm
	BUILD=$(BUILD) bash bench/tf/run.sh

# `wagi eventgrid` publish throughput and publish-to-delivery latency alone
# (about 50 s; `make bench` runs it after the kernels).
bench-eventgrid: setup $(BUILD)/wagi $(BUILD)/egload
	BUILD=$(BUILD) bash bench/eventgrid/run.sh

# Example WAGI modules: examples/NAME/main.c -> $(BUILD)/examples/NAME.wasm
# (C for wasm32-wasi on wasi-libc; examples/wat/ is served as WAT text).
WASM_CC  ?= clang-16
EXAMPLE_SRC := $(wildcard examples/*/main.c)
EXAMPLE_WASM := $(EXAMPLE_SRC:examples/%/main.c=$(BUILD)/examples/%.wasm)

# Every example links the guest library (guest/, GUEST_SRC above): wasm-ld
# drops what a module does not call, imports included.

$(EXAMPLE_WASM): $(BUILD)/examples/%.wasm: examples/%/main.c $(GUEST_SRC) $(GUEST_HDR)
	@mkdir -p $(dir $@)
	$(WASM_CC) --target=wasm32-wasi -O2 $(EXAMPLE_CFLAGS) -Wall -Wextra $(WERROR) -Iguest/include $< $(GUEST_SRC) -o $@ -Wl,--strip-all

# The tf example (examples/tf, issue 19) runs wagi_tflite's SIMD128 kernels
# and compiles stb_image (Debian's libstb-dev) into the module.
$(BUILD)/examples/tf.wasm: EXAMPLE_CFLAGS := -msimd128

examples: $(EXAMPLE_WASM)
	@:

# Leaves wagi listening on 127.0.0.1:3000 (pid and logs under $(BUILD)/demo/).
# Built by a sub-make so that nothing compiles before setup has installed
# the compilers, even under -j.
demo: setup
	@$(MAKE) --no-print-directory $(BUILD_JOBS) demo-build
	@BUILD=$(BUILD) bash scripts/demo.sh

demo-build: $(BUILD)/wagi examples $(BUILD)/examples/tf.wasmc
	@:

# The demo serves the tf example as native code (docs/aot.md): compiled by
# the system C compiler, about 15 s of CPU, again only when the module or
# wagi changes.
$(BUILD)/examples/tf.wasmc: $(BUILD)/examples/tf.wasm $(BUILD)/wagi
	$(BUILD)/wagi compile $< -o $@

demo-stop:
	@BUILD=$(BUILD) bash scripts/demo.sh stop

clean:
	rm -rf build build-san

# Keep objects and generated headers made through pattern chains.
.SECONDARY:

-include $(shell find $(OBJ) $(FZ_OBJ) -name '*.d' 2>/dev/null)
