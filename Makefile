# authsink - GNU make. `make`, `make run`, `make check`, `make asan`, `make install`.
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DOCDIR    ?= $(PREFIX)/share/doc/authsink
DESTDIR   ?=

PKGS      := libuv tre tdb
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC        ?= cc
WERROR    := $(if $(filter true,$(CI)),-Werror,)
CFLAGS    ?= -O2 -g
# Ours, kept apart so `make CFLAGS=...` (as make asan does) keeps them.
AS_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -iquote src/lib -iquote src/daemon $(PKG_CFLAGS)
LDLIBS    += $(PKG_LIBS)

B         ?= build
LIB_SRC   := $(wildcard src/lib/*.c)
DAEMON_SRC := $(wildcard src/daemon/*.c)
HELPER_SRC := $(wildcard src/helper/*.c)
TEST_SRC  := $(wildcard t/c/*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(B)/%.o)
HELPER_OBJ := $(HELPER_SRC:%.c=$(B)/%.o)
TEST_BIN  := $(TEST_SRC:t/c/%.c=$(B)/t/%)

.PHONY: all run check asan install clean deps bench
all: $(B)/authsinkd $(B)/authsink $(TEST_BIN)

$(B)/%.o: %.c $(wildcard src/lib/*.h src/daemon/*.h src/helper/*.h)
	@mkdir -p $(@D)
	$(CC) $(AS_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libauthsink.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(B)/authsinkd: $(DAEMON_OBJ) $(B)/libauthsink.a
	$(CC) $(AS_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/authsink: $(HELPER_OBJ) $(B)/libauthsink.a
	$(CC) $(AS_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/t/%: t/c/%.c $(B)/libauthsink.a
	@mkdir -p $(@D)
	$(CC) $(AS_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Installs what is missing (as root), or says what to install.
deps:
	@sh .ci/deps build

run: deps
	@$(MAKE) --no-print-directory all
	@sh contrib/run-local.sh $(B)

check: all
	AUTHSINK_BUILD=$(abspath $(B)) prove -r t/

# Full malloc stacks, so t/lsan.supp can name the third-party caller.
asan:
	ASAN_OPTIONS=fast_unwind_on_malloc=0 \
	LSAN_OPTIONS=suppressions=$(abspath t/lsan.supp):print_suppressions=0 \
	$(MAKE) B=build-asan CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" check

install: $(B)/authsinkd $(B)/authsink
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(SYSCONFDIR)/authsink/rules.d
	install -m 755 $(B)/authsinkd $(DESTDIR)$(SBINDIR)/authsinkd
	install -m 755 $(B)/authsink $(DESTDIR)$(BINDIR)/authsink
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 rules.d/*.rules $(DESTDIR)$(SYSCONFDIR)/authsink/rules.d/
	test -e $(DESTDIR)$(SYSCONFDIR)/authsink/authsink.conf || \
	  install -m 644 contrib/authsink.conf $(DESTDIR)$(SYSCONFDIR)/authsink/authsink.conf
	@# systemd units, with the paths of this installation
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	for u in contrib/systemd/*.service contrib/systemd/*.socket; do \
	  sed -e 's|/usr/sbin/authsinkd|$(SBINDIR)/authsinkd|g' \
	      -e 's|/usr/bin/authsink|$(BINDIR)/authsink|g' \
	      -e 's|/etc/authsink/|$(SYSCONFDIR)/authsink/|g' "$$u" \
	    > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} && \
	  chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 644 contrib/systemd/authsink.sysusers $(DESTDIR)$(SYSUSERSDIR)/authsink.conf
	@# MTA and syslog snippets, for reference
	for d in contrib/*/; do \
	  d=$${d%/}; install -d $(DESTDIR)$(DOCDIR)/$$d && \
	  for f in $$d/*; do \
	    [ -f "$$f" ] || continue; case $$f in *.c|*/Makefile) continue;; esac; \
	    install -m 644 "$$f" $(DESTDIR)$(DOCDIR)/$$d/ || exit 1; \
	  done; \
	done
	install -m 644 contrib/authsink.conf NEWS README.md $(DESTDIR)$(DOCDIR)/

clean:
	rm -rf build build-asan

# ---- make bench: t/bench/, results in $(B)/bench, figures in README ----
BENCH_BIN := $(addprefix $(B)/bench/,loadgen sink replay probe)

$(B)/bench/%: t/bench/%.c t/bench/mix.h t/bench/clock.h $(B)/libauthsink.a
	@mkdir -p $(@D)
	$(CC) $(AS_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libauthsink.a $(LDLIBS)

bench: $(B)/authsinkd $(B)/authsink $(BENCH_BIN)
	perl t/bench/bench.pl --build $(B) $(BENCH_ARGS)

# ---------------------------------------------------------------------
# Fuzzing (libFuzzer; clang with its sanitizer runtime: .ci/deps asan).
#   make fuzz       builds every t/fuzz/fuzz-*.c into build-fuzz/ (ASan+UBSan)
#   make fuzz-run   runs each for FUZZ_SECONDS (default 60), FUZZ_JOBS at a
#                   time, and prints executions and crashes per target;
#                   fails on any crash (inputs kept in build-fuzz/crashes/)
FUZZ_B       := build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined
FUZZ_LIB_OBJ := $(LIB_SRC:src/lib/%.c=$(FUZZ_B)/lib/%.o)
FUZZ_BIN     := $(patsubst t/fuzz/%.c,$(FUZZ_B)/%,$(wildcard t/fuzz/fuzz-*.c))

.PHONY: fuzz fuzz-run fuzz-clean
fuzz: $(FUZZ_BIN)

$(FUZZ_B)/lib/%.o: src/lib/%.c $(wildcard src/lib/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(AS_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/libauthsink.a: $(FUZZ_LIB_OBJ)
	$(AR) rcs $@ $^

$(FUZZ_B)/fuzz-%: t/fuzz/fuzz-%.c $(FUZZ_B)/libauthsink.a $(wildcard t/fuzz/*.h)
	$(FUZZ_CC) $(AS_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
	  -DRULES_DIR='"$(abspath rules.d)"' -o $@ $< $(FUZZ_B)/libauthsink.a $(LDLIBS)

fuzz-run: fuzz
	perl t/fuzz/run.pl --build $(FUZZ_B) --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS)

fuzz-clean:
	rm -rf $(FUZZ_B)
clean: fuzz-clean
