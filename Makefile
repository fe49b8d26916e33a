# tdrv: plain Makefile. `make` builds, `make check` tests under ASan+UBSan.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(PREFIX)/share/zsh/site-functions

CC ?= cc
PKGS = libcurl libcjson yaml-0.1 libarchive libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN = -Wall -Wextra -Wformat=2 -Wshadow -Wmissing-prototypes -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) -MMD -MP -D_GNU_SOURCE -include common/banned.h -iquote common \
	$(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = -Wl,--as-needed $(LDFLAGS)
LIBS = $(PKG_LIBS) -lpthread

ifeq ($(SANITIZE),1)
O ?= build/asan
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ALL_LDFLAGS += -fsanitize=address,undefined
else
O ?= build/release
endif

LIB_SRC := $(sort $(wildcard common/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
LIB := $(O)/libtdrv.a
TOOLS := $(notdir $(wildcard cmd/tdrv-*))
BINS := $(TOOLS:%=$(O)/bin/%)
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJ := $(UNIT_SRC:%.c=$(O)/%.o)
UNIT_BIN := $(O)/unit-run
MANS := $(wildcard man/*.1)

.PHONY: all check unit bats deps install clean format format-check bench demo fuzz

all: $(BINS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

define tool_rule
$(O)/bin/$(1): $(patsubst %.c,$(O)/%.o,$(wildcard cmd/$(1)/*.c)) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) $$(ALL_LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

# The unit runner calls test_<file>() for every tests/unit/test_<file>.c.
$(O)/tests/unit/list.h: $(UNIT_SRC)
	@mkdir -p $(dir $@)
	@for f in $(filter tests/unit/test_%.c,$(UNIT_SRC)); do \
	  n=$$(basename $$f .c); echo "TEST($$n)"; done > $@.tmp && mv $@.tmp $@

$(O)/tests/unit/main.o: $(O)/tests/unit/list.h
$(O)/tests/unit/main.o: ALL_CFLAGS += -iquote $(O)/tests/unit

$(UNIT_BIN): $(UNIT_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

unit: $(UNIT_BIN)
	$(UNIT_BIN)

bats: all
	TDRV_BIN=$(abspath $(O)/bin) bats tests/bats

# A short pass of every fuzz target, then the whole suite under AddressSanitizer and
# UBSan; ends with "N passed, N failed".
check:
	$(MAKE) fuzz-short
	$(MAKE) SANITIZE=1 all $(O:build/release=build/asan)/unit-run
	tests/run-tests.sh build/asan

deps:
	scripts/deps.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
	  $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	$(if $(MANS),install -m 0644 $(MANS) $(DESTDIR)$(MANDIR)/man1/)
	for t in $(TOOLS); do \
	  [ ! -f completions/$$t.bash ] || install -m 0644 completions/$$t.bash $(DESTDIR)$(BASHCOMPDIR)/$$t; \
	  [ ! -f completions/_$$t ] || install -m 0644 completions/_$$t $(DESTDIR)$(ZSHCOMPDIR)/_$$t; \
	done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

bench: all
	bench/run.sh $(abspath $(O)/bin)

demo: all
	scripts/demo.sh $(abspath $(O)/bin)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(wildcard $(O)/cmd/*/*.d)

# ---------------------------------------------------------------------------------------------
# Fuzzing and valgrind (docs/fuzzing.md). libFuzzer targets are tests/fuzz/fuzz_<name>.c, linked
# against libtdrv's sources built by clang with coverage, ASan and UBSan into build/fuzz (never
# build/release or build/asan). `make fuzz` runs each target FUZZ_SECONDS over a copy of its
# corpus, tests/fuzz/corpus/<name>/; `make fuzz-short` is the 5-second pass CI runs.
FUZZ_CC ?= clang
FUZZ_O := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=gnu11 $(WARN) -MMD -MP -D_GNU_SOURCE -include common/banned.h -iquote common \
	$(PKG_CFLAGS) -O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_O)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_O)/%.o)

.PHONY: fuzz fuzz-short fuzz-build valgrind

$(FUZZ_O)/common/%.o: common/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_O)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_O)/libtdrv.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_O)/fuzz_%: $(FUZZ_O)/tests/fuzz/fuzz_%.o $(FUZZ_O)/tests/fuzz/util.o $(FUZZ_O)/libtdrv.a
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LIBS)

# Keep the targets' objects (make would delete them as intermediates of the pattern chain).
.SECONDARY: $(FUZZ_SRC:%.c=$(FUZZ_O)/%.o) $(FUZZ_O)/tests/fuzz/util.o

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_O) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-short:
	FUZZ_SEED=1 $(MAKE) fuzz FUZZ_SECONDS=5

# The bats suite with every tool run under valgrind memcheck (release build, no ASan).
VALGRIND_BATS ?= tests/bats/tdrv-pull.bats

valgrind:
	$(MAKE) SANITIZE= O=build/release all
	tests/valgrind/run.sh build/release $(VALGRIND_BATS)

-include $(FUZZ_LIB_OBJ:.o=.d) $(wildcard $(FUZZ_O)/tests/fuzz/*.d)
