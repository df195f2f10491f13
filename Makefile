# closehook - one non-recursive GNU Makefile.  See HACKING.md.

VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
DOCDIR   ?= $(PREFIX)/share/doc/closehook

CC       ?= cc
CFLAGS   ?= -O2 -g
WARNINGS  = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wvla -Wimplicit-fallthrough \
            -Wno-unused-parameter
ALLCFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE \
            -DCLOSEHOOK_VERSION='"$(VERSION)"' -Icommon $(WARNINGS) $(CFLAGS)
LDLIBS_BASE =

BUILD     = build
ifeq ($(DEVELOPER),1)
ALLCFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
ALLCFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
             -fno-sanitize-recover=all
LDFLAGS   += -fsanitize=$(SANITIZE)
BUILD     = build-san
endif

# Libraries, resolved when a link runs (after .ci/deps installed them).
pc = $(shell pkg-config --libs $(1) 2>/dev/null || echo $(2))
LIB_crypto  = $(call pc,libcrypto,-lcrypto)
LIB_sodium  = $(call pc,libsodium,-lsodium)
LIB_curl    = $(call pc,libcurl,-lcurl)
LIB_sqlite  = $(call pc,sqlite3,-lsqlite3)
LIB_hiredis = $(call pc,hiredis,-lhiredis)
LIB_mhd     = $(call pc,libmicrohttpd,-lmicrohttpd)
# jq 1.6 on Debian ships no pkg-config file.
LIB_jq      = $(call pc,libjq,-ljq)
LIB_nats    = $(call pc,libnats,-lnats)
LIB_m       = -lm
LIB_pthread = -lpthread

# Programs: cmd/closehook-NAME.c each; MODS_NAME lists the common modules
# it links and LIBS_NAME the libraries.
PROGS = $(sort $(patsubst cmd/closehook-%.c,%,$(wildcard cmd/closehook-*.c)))
MODS_verify  = cli line out mark recloop json keys hmac capture isotime closesig metrics \
               atomicfile
LIBS_verify  = crypto sodium
MODS_receive = cli out json keys hmac capture isotime closesig netaddr \
               metrics atomicfile
LIBS_receive = mhd sodium crypto pthread
MODS_flatten = cli line out mark recloop json jqr isotime evrec flat metrics atomicfile
LIBS_flatten = jq m
MODS_dedupe  = cli line out mark recloop json jqr evrec store metrics atomicfile \
               secret natsq
LIBS_dedupe  = jq sqlite hiredis nats sodium m
MODS_backfill = cli out json isotime ratelimit closeapi atomicfile metrics evrec
MODS_subscribe = cli out json isotime ratelimit closeapi atomicfile
LIBS_subscribe = curl sodium
LIBS_backfill = curl sodium
MODS_post    = cli line out mark json jqr http backoff ratelimit isotime sign hmac \
               metrics atomicfile secret
LIBS_post    = curl jq sodium crypto m
MODS_follow  = cli out json isotime metrics atomicfile mark natsq secret
LIBS_follow  = nats sodium

# Unit tests of common/: tests/unit/test-NAME.c links UMODS_NAME and
# ULIBS_NAME.
UNITS = $(sort $(patsubst tests/unit/test-%.c,%,$(wildcard tests/unit/test-*.c)))
UMODS_json    = json
UMODS_line    = line out cli atomicfile
UMODS_cli     = cli
UMODS_out     = out cli atomicfile
UMODS_hmac    = hmac cli
UMODS_keys    = keys hmac cli
UMODS_capture = capture json cli
UMODS_capwrite = capture json cli
ULIBS_capwrite = sodium
UMODS_netaddr = netaddr
UMODS_jqr     = jqr json cli
UMODS_isotime = isotime
UMODS_evrec   = evrec json out cli atomicfile
UMODS_flat    = flat json isotime out cli atomicfile
UMODS_store   = store natsq secret cli
UMODS_natsq   = natsq secret cli
ULIBS_natsq   = nats sodium
UMODS_ratelimit = ratelimit isotime json
UMODS_closeapi = closeapi ratelimit json isotime cli
ULIBS_closeapi = curl sodium
ULIBS_keys    = crypto sodium
ULIBS_hmac    = crypto sodium
ULIBS_capture = sodium
ULIBS_jqr     = jq m
ULIBS_store   = sqlite hiredis nats sodium
UMODS_backoff = backoff
UMODS_sign    = sign hmac cli
UMODS_secret  = secret cli
ULIBS_secret  = sodium
UMODS_http    = http ratelimit isotime json
UMODS_metrics = metrics atomicfile cli
UMODS_atomicfile = atomicfile
UMODS_closesig = closesig keys hmac json cli
ULIBS_closesig = crypto sodium
ULIBS_sign    = crypto sodium
ULIBS_http    = curl

# Test tools: tests/unit/NAME.c without the test- prefix, programs the
# shell tests run (not tests themselves); TMODS_NAME and TLIBS_NAME.
TOOLS = natsq-pub
TMODS_natsq-pub = natsq secret capture json cli
TLIBS_natsq-pub = nats sodium pthread

# Fuzz targets: tests/fuzz/fuzz-NAME.c, seed corpus in tests/fuzz/corpus/NAME/.
FUZZ = $(sort $(patsubst tests/fuzz/fuzz-%.c,%,$(wildcard tests/fuzz/fuzz-*.c)))
FMODS_json    = json jqr cli
FMODS_capture = capture json cli
FMODS_netaddr = netaddr
FMODS_flat    = flat json isotime out cli atomicfile
FMODS_storeurl = store natsq secret cli
FLIBS_json    = jq m
FLIBS_capture = sodium
FLIBS_storeurl = sqlite hiredis nats sodium
FMODS_closeapi = closeapi ratelimit json isotime cli
FLIBS_closeapi = curl sodium
FMODS_postopts = http backoff ratelimit isotime json
FLIBS_postopts = curl

BIN   = $(PROGS:%=$(BUILD)/bin/closehook-%)
MANS  = man/closehook.7 $(PROGS:%=man/closehook-%.1)
UBIN  = $(UNITS:%=$(BUILD)/tests/test-%)
TBIN  = $(TOOLS:%=$(BUILD)/tests/%)
FREPLAY = $(FUZZ:%=$(BUILD)/tests/replay-%)

all: $(BIN)

$(BUILD)/common/%.o: common/%.c common/*.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(BUILD)/cmd/%.o: cmd/%.c common/*.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/unit/%.c tests/unit/tap.h common/*.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -Itests/unit -c -o $@ $<

$(BUILD)/tests/fuzz-%.o: tests/fuzz/fuzz-%.c common/*.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(BUILD)/tests/replay.o: tests/fuzz/replay.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

define prog_rule
$(BUILD)/bin/closehook-$(1): $(BUILD)/cmd/closehook-$(1).o $(MODS_$(1):%=$(BUILD)/common/%.o)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(foreach l,$(LIBS_$(1)),$$(LIB_$$(l)))
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

define unit_rule
$(BUILD)/tests/test-$(1): $(BUILD)/tests/test-$(1).o $(UMODS_$(1):%=$(BUILD)/common/%.o)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(foreach l,$(ULIBS_$(1)),$$(LIB_$$(l)))
endef
$(foreach u,$(UNITS),$(eval $(call unit_rule,$(u))))

define tool_rule
$(BUILD)/tests/$(1): $(BUILD)/tests/$(1).o $(TMODS_$(1):%=$(BUILD)/common/%.o)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(foreach l,$(TLIBS_$(1)),$$(LIB_$$(l)))
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

define replay_rule
$(BUILD)/tests/replay-$(1): $(BUILD)/tests/fuzz-$(1).o $(BUILD)/tests/replay.o $(FMODS_$(1):%=$(BUILD)/common/%.o)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(foreach l,$(FLIBS_$(1)),$$(LIB_$$(l)))
endef
$(foreach f,$(FUZZ),$(eval $(call replay_rule,$(f))))

# libFuzzer builds (clang), in their own directory.
FUZZCC     ?= clang
FUZZFLAGS   = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Icommon -g -O1 \
              -DCLOSEHOOK_VERSION='"$(VERSION)"' \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZTIME   ?= 60
FUZZLONG   ?= 600
define fuzz_rule
build-fuzz/fuzz-$(1): tests/fuzz/fuzz-$(1).c $(FMODS_$(1):%=common/%.c) common/*.h
	@mkdir -p $$(@D)
	$$(FUZZCC) $$(FUZZFLAGS) -o $$@ tests/fuzz/fuzz-$(1).c $(FMODS_$(1):%=common/%.c) $$(foreach l,$(FLIBS_$(1)),$$(LIB_$$(l)))
endef
$(foreach f,$(FUZZ),$(eval $(call fuzz_rule,$(f))))

.PHONY: all deps check test-run check-valgrind test-valgrind tests fuzz \
        fuzz-long bench demo lint \
        install uninstall clean

# Installs missing Debian packages (apt-get; sudo when not root).
deps:
	@sh .ci/deps

tests: all $(UBIN) $(TBIN) $(FREPLAY)

# make check: set up, build, run everything a contributor needs.
# VALGRIND=1 runs it under valgrind (the same as make check-valgrind).
check: deps
	@$(MAKE) --no-print-directory \
	    $(if $(filter 1,$(VALGRIND)),test-valgrind,test-run)

test-run: tests
	CLOSEHOOK_BUILD=$(abspath $(BUILD)) prove -j2 $(UBIN) tests/*.t

# Every program, unit test and replay binary under valgrind: shims in
# $(BUILD)/valgrind/, logs in $(BUILD)/valgrind/logs (tests/valgrind-check).
check-valgrind: deps
	@$(MAKE) --no-print-directory test-valgrind

test-valgrind: tests
	@sh tests/valgrind-check $(abspath $(BUILD)) tests/*.t

fuzz: $(FUZZ:%=build-fuzz/fuzz-%)
	@sh tests/fuzz/run $(FUZZTIME) $(FUZZ)

fuzz-long: $(FUZZ:%=build-fuzz/fuzz-%)
	@sh tests/fuzz/run $(FUZZLONG) $(FUZZ)

bench: deps
	@$(MAKE) --no-print-directory all
	@CLOSEHOOK_BUILD=$(abspath $(BUILD)) sh bench/run

demo: deps
	@$(MAKE) --no-print-directory all
	@CLOSEHOOK_BUILD=$(abspath $(BUILD)) sh bench/demo

lint:
	mandoc -Tlint -Wwarning $(MANS)
	clang-format --dry-run --Werror common/*.c common/*.h cmd/*.c
	shellcheck -s sh .ci/deps bench/run bench/demo bench/bench-* tests/fuzz/run \
	    tests/valgrind-check
	# Tests share variables through tests/lib.sh, which is sourced.
	shellcheck -s bash -e SC1090,SC1091,SC2034,SC2154 .ci/run tests/lib.sh \
	    tests/*.t tests/fakes/*.sh completions/bash/*
	shellcheck examples/*.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(BASHCOMPDIR) \
	    $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)
	install -m 644 $(PROGS:%=man/closehook-%.1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/closehook.7 $(DESTDIR)$(MANDIR)/man7
	for p in $(PROGS); do \
	    install -m 644 completions/bash/closehook-$$p $(DESTDIR)$(BASHCOMPDIR)/closehook-$$p && \
	    install -m 644 completions/zsh/_closehook-$$p $(DESTDIR)$(ZSHCOMPDIR)/_closehook-$$p && \
	    install -m 644 completions/fish/closehook-$$p.fish $(DESTDIR)$(FISHCOMPDIR)/closehook-$$p.fish || exit 1; \
	done
	install -d $(DESTDIR)$(DOCDIR)/examples/systemd/sysusers.d
	install -m 755 examples/*.sh $(DESTDIR)$(DOCDIR)/examples
	install -m 644 examples/systemd/*.service examples/systemd/*.timer \
	    $(DESTDIR)$(DOCDIR)/examples/systemd
	install -m 644 examples/systemd/sysusers.d/closehook.conf \
	    $(DESTDIR)$(DOCDIR)/examples/systemd/sysusers.d

uninstall:
	for p in $(PROGS); do \
	    rm -f $(DESTDIR)$(BINDIR)/closehook-$$p \
	        $(DESTDIR)$(MANDIR)/man1/closehook-$$p.1 \
	        $(DESTDIR)$(BASHCOMPDIR)/closehook-$$p \
	        $(DESTDIR)$(ZSHCOMPDIR)/_closehook-$$p \
	        $(DESTDIR)$(FISHCOMPDIR)/closehook-$$p.fish; \
	done
	rm -f $(DESTDIR)$(MANDIR)/man7/closehook.7
	rm -f $(patsubst %,$(DESTDIR)$(DOCDIR)/%,$(wildcard examples/*.sh \
	    examples/systemd/*.service examples/systemd/*.timer \
	    examples/systemd/sysusers.d/closehook.conf))
	-rmdir $(DESTDIR)$(DOCDIR)/examples/systemd/sysusers.d \
	    $(DESTDIR)$(DOCDIR)/examples/systemd $(DESTDIR)$(DOCDIR)/examples \
	    $(DESTDIR)$(DOCDIR) 2>/dev/null

clean:
	rm -rf build build-san build-fuzz
