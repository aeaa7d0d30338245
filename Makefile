# wagi-c build. `make` builds build/wagi; see README for the rest.
# Source files are picked up by wildcard: adding a .c file needs no edit here.

CC       ?= cc
WERROR   ?=
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -Isrc -Isrc/wasm -pthread
LDFLAGS  += -pthread
LDLIBS   += -lm

BUILD    ?= build
OBJ      := $(BUILD)/obj

WASM_SRC := $(wildcard src/wasm/*.c)
WASM_OBJ := $(WASM_SRC:%.c=$(OBJ)/%.o)
CLI_SRC  := $(wildcard src/cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(OBJ)/%.o)
SPEC_SRC := $(wildcard tests/spec/*.c)
SPEC_OBJ := $(SPEC_SRC:%.c=$(OBJ)/%.o)

.PHONY: all clean test spectest unit demo bench setup san
all: $(BUILD)/wagi

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libwasm.a: $(WASM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/wagi: $(CLI_OBJ) $(BUILD)/libwasm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/spectest: $(SPEC_OBJ) $(BUILD)/libwasm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcjson

setup:
	bash scripts/setup.sh

spectest: $(BUILD)/spectest
	$(BUILD)/spectest $(if $(WASM_TESTSUITE),--suite $(WASM_TESTSUITE))

clean:
	rm -rf build build-san

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
