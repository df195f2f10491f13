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
# CPPFLAGS as make and dpkg-buildflags pass them (-D_FORTIFY_SOURCE=2).
ALLCFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE \
            -DCLOSEHOOK_VERSION='"$(VERSION)"' -Icommon $(WARNINGS) \
            $(CPPFLAGS) $(CFLAGS)
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

# Each module's link dependencies, written once: D_NAME the modules its
# functions call, L_NAME the libraries.  Programs, unit tests and fuzz
# targets name only the modules (and libraries) they call themselves; the
# rest follows (mods, libs).
D_cli      = isotime
D_capture  = cli json
L_capture  = sodium
D_closeapi = cli json ratelimit readfile
L_closeapi = curl sodium
D_closeevents = cli
D_closegen = cli closeevents jtree
D_closesig = cli hmac json keyring
L_closesig = sodium
D_evrec    = json out
D_flat     = cli isotime json out
D_hmac     = cli
L_hmac     = crypto pthread
D_har      = cli httpdump isotime json
L_har      = sodium
D_http     = cli ratelimit
D_httpdump = cli
L_http     = curl
D_job      = cli mark out
D_jqr      = cli json
D_jtree    = cli json
L_jtree    = m
L_jqr      = jq m
D_keyring  = cli hmac readfile
L_keyring  = sodium
D_lr       = cli out
D_mark     = cli out
D_natsq    = cli readfile
L_natsq    = nats sodium
D_metrics  = atomicfile cli
L_metrics  = m
D_out      = atomicfile cli json
D_ratelimit = isotime json
D_readfile = cli
L_readfile = sodium
D_recloop  = cli lr mark out
L_recloop  = pthread
D_rejline  = cli out
D_signer   = cli hmac keyring readfile
L_signer   = sodium crypto
D_store    = cli natsq
L_store    = sqlite hiredis sodium
# mods LIST: LIST and every module it needs, transitively.
mods = $(sort $(1) $(foreach m,$(1),$(call mods,$(D_$(m)))))
# libs MODULES, OWN: the libraries of the modules' closure, and OWN.
libs = $(sort $(2) $(foreach m,$(call mods,$(1)),$(L_$(m))))

# Programs: cmd/closehook-NAME.c each; MODS_NAME lists the common modules
# it calls and LIBS_NAME the libraries it calls itself.
PROGS = $(sort $(patsubst cmd/closehook-%.c,%,$(wildcard cmd/closehook-*.c)))
MODS_verify  = capture cli closesig isotime json keyring lr mark metrics out readfile rejline \
               recloop
LIBS_verify  = sodium
MODS_receive = capture cli closesig httpframe isotime json keyring metrics natsq \
               netaddr out readfile
LIBS_receive = mhd pthread sodium
MODS_flatten = cli evrec flat jqr json lr mark metrics out readfile recloop rejline
LIBS_flatten = jq m
MODS_dedupe  = cli evrec jqr json lr mark metrics out readfile recloop \
               rejline store
LIBS_dedupe  = jq m sodium
MODS_backfill = atomicfile backoff cli closeapi evrec isotime json mark metrics out readfile
LIBS_backfill = curl
MODS_subscribe = atomicfile cli closeapi closeevents json keyring out readfile
LIBS_subscribe = curl sodium
MODS_post    = atomicfile backoff cli hmac http job jqr json lr mark metrics \
               keyring out ratelimit readfile signer
LIBS_post    = curl jq m sodium
MODS_follow  = atomicfile cli isotime json mark metrics natsq out readfile
LIBS_follow  =
MODS_trigger = capture cli closeevents closegen hmac json jtree keyring out
LIBS_trigger = curl sodium
MODS_capture = cli out atomicfile json capture httpdump har isotime
LIBS_capture = sodium

# Unit tests of common/: tests/unit/test-NAME.c calls UMODS_NAME (NAME when
# unset) and ULIBS_NAME.
UNITS = $(sort $(patsubst tests/unit/test-%.c,%,$(wildcard tests/unit/test-*.c)))
umods = $(if $(UMODS_$(1)),$(UMODS_$(1)),$(1))
UMODS_capwrite = capture json
UMODS_closesig = closesig json keyring
UMODS_evrec   = evrec json out
UMODS_flat    = flat json out
UMODS_job     = job out
UMODS_lr      = lr out
UMODS_metrics = metrics cli
ULIBS_closesig = sodium
ULIBS_hmac    = pthread
ULIBS_keyring = sodium
ULIBS_readfile = sodium
ULIBS_signer = sodium

# Test tools: tests/unit/NAME.c without the test- prefix, programs the
# shell tests run (not tests themselves); TMODS_NAME and TLIBS_NAME.
TOOLS = natsq-pub
TMODS_natsq-pub = natsq capture
TLIBS_natsq-pub = pthread

# Bench tools: bench/NAME.c, each a limit that `make bench` measures beside
# a program (HMAC alone, SQLite alone), or the machine (cores: what a second
# thread gets); BMODS_NAME and BLIBS_NAME.
BENCHTOOLS = hmac-speed sqlite-insert cores
BMODS_hmac-speed = capture cli hmac
BMODS_sqlite-insert = cli
BLIBS_sqlite-insert = sqlite
BMODS_cores = cli
BLIBS_cores = pthread

# Fuzz targets: tests/fuzz/fuzz-NAME.c, seed corpus in tests/fuzz/corpus/NAME/.
FUZZ = $(sort $(patsubst tests/fuzz/fuzz-%.c,%,$(wildcard tests/fuzz/fuzz-*.c)))
FMODS_json    = json jqr cli
FMODS_capture = capture json cli
FMODS_netaddr = netaddr
FMODS_httpframe = httpframe
FMODS_flat    = flat json out
FMODS_storeurl = store cli
FMODS_closeapi = closeapi json
FMODS_postopts = backoff http ratelimit
FMODS_httpdump = httpdump capture
FMODS_har     = har capture
FMODS_explain = closesig
FMODS_keyring = keyring
FMODS_times   = isotime cli

BIN   = $(PROGS:%=$(BUILD)/bin/closehook-%)
MANS  = man/closehook.7 $(PROGS:%=man/closehook-%.1)
UBIN  = $(UNITS:%=$(BUILD)/tests/test-%)
TBIN  = $(TOOLS:%=$(BUILD)/tests/%)
FREPLAY = $(FUZZ:%=$(BUILD)/tests/replay-%)
BBIN  = $(BENCHTOOLS:%=$(BUILD)/bench/%)

all: $(BIN)

# Header dependencies come from the compiler (-MMD -MP, the .d files).
DEPFLAGS = -MMD -MP

$(BUILD)/common/%.o: common/%.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/cmd/%.o: cmd/%.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -Itests/unit -c -o $@ $<

$(BUILD)/tests/fuzz-%.o: tests/fuzz/fuzz-%.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/tests/replay.o: tests/fuzz/replay.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -c -o $@ $<

-include $(wildcard $(BUILD)/*/*.d)

define prog_rule
$(BUILD)/bin/closehook-$(1): $(BUILD)/cmd/closehook-$(1).o \
    $(patsubst %,$(BUILD)/common/%.o,$(call mods,$(MODS_$(1))))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(foreach l,$(call libs,$(MODS_$(1)),$(LIBS_$(1))),$$(LIB_$$(l)))
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

define unit_rule
$(BUILD)/tests/test-$(1): $(BUILD)/tests/test-$(1).o \
    $(patsubst %,$(BUILD)/common/%.o,$(call mods,$(call umods,$(1))))
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(foreach l,$(call libs,$(call umods,$(1)),$(ULIBS_$(1))),$$(LIB_$$(l)))
endef
$(foreach u,$(UNITS),$(eval $(call unit_rule,$(u))))

define tool_rule
$(BUILD)/tests/$(1): $(BUILD)/tests/$(1).o \
    $(patsubst %,$(BUILD)/common/%.o,$(call mods,$(TMODS_$(1))))
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(foreach l,$(call libs,$(TMODS_$(1)),$(TLIBS_$(1))),$$(LIB_$$(l)))
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

define bench_rule
$(BUILD)/bench/$(1): $(BUILD)/bench/$(1).o \
    $(patsubst %,$(BUILD)/common/%.o,$(call mods,$(BMODS_$(1))))
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(foreach l,$(call libs,$(BMODS_$(1)),$(BLIBS_$(1))),$$(LIB_$$(l)))
endef
$(foreach b,$(BENCHTOOLS),$(eval $(call bench_rule,$(b))))

define replay_rule
$(BUILD)/tests/replay-$(1): $(BUILD)/tests/fuzz-$(1).o $(BUILD)/tests/replay.o \
    $(patsubst %,$(BUILD)/common/%.o,$(call mods,$(FMODS_$(1))))
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(foreach l,$(call libs,$(FMODS_$(1)),$(FLIBS_$(1))),$$(LIB_$$(l)))
endef
$(foreach f,$(FUZZ),$(eval $(call replay_rule,$(f))))

# libFuzzer builds (clang), in their own directory.
FUZZCC     ?= clang
FUZZFLAGS   = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Icommon -g -O1 \
              -DCLOSEHOOK_VERSION='"$(VERSION)"' -DHMAC_NO_NI \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZTIME   ?= 60
FUZZLONG   ?= 600
define fuzz_rule
build-fuzz/fuzz-$(1): tests/fuzz/fuzz-$(1).c $(patsubst %,common/%.c,$(call mods,$(FMODS_$(1)))) common/*.h
	@mkdir -p $$(@D)
	$$(FUZZCC) $$(FUZZFLAGS) -o $$@ tests/fuzz/fuzz-$(1).c $(patsubst %,common/%.c,$(call mods,$(FMODS_$(1)))) $$(foreach l,$(call libs,$(FMODS_$(1)),$(FLIBS_$(1))),$$(LIB_$$(l)))
endef
$(foreach f,$(FUZZ),$(eval $(call fuzz_rule,$(f))))

.PHONY: all deps check test-run check-valgrind test-valgrind tests fuzz \
        fuzz-long bench demo lint \
        install uninstall deb clean

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
	@$(MAKE) --no-print-directory all $(BBIN) $(BUILD)/tests/natsq-pub
	@CLOSEHOOK_BUILD=$(abspath $(BUILD)) sh bench/run

demo: deps
	@$(MAKE) --no-print-directory all
	@CLOSEHOOK_BUILD=$(abspath $(BUILD)) sh bench/demo

lint:
	mandoc -Tlint -Wwarning $(MANS)
	clang-format --dry-run --Werror common/*.c common/*.h cmd/*.c \
	    $(BENCHTOOLS:%=bench/%.c)
	shellcheck -x -s sh .ci/deps bench/run bench/demo bench/bench-* \
	    bench/nats-cluster.sh bench/lib.sh tests/fuzz/run tests/valgrind-check
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

# make deb: the Debian package, build/deb/closehook_VERSION_ARCH.deb, built
# by dpkg-buildpackage (debian/, debhelper) in a copy of the tree in
# build/deb/src: in a git checkout the files git sees, as they are now
# (tracked and untracked, not the ignored ones; through an index of its
# own, so the checkout's index is not touched), else everything but the
# build directories.  The package build starts afresh, not inside this make.
DEBDIR = build/deb
deb: deps
	@v=$$(dpkg-parsechangelog -S Version) && [ "$$v" = "$(VERSION)" ] || \
	    { echo "debian/changelog is at $$v, VERSION at $(VERSION)" >&2; exit 2; }
	rm -rf $(DEBDIR)
	mkdir -p $(DEBDIR)/src
	if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ]; then \
	    export GIT_INDEX_FILE=$(abspath $(DEBDIR))/index && git add -A && \
	    git archive -o $(DEBDIR)/src.tar "$$(git write-tree)"; \
	else \
	    tar -cf $(DEBDIR)/src.tar --exclude=./build --exclude=./build-san \
	        --exclude=./build-fuzz .; \
	fi
	tar -xf $(DEBDIR)/src.tar -C $(DEBDIR)/src
	rm -f $(DEBDIR)/index $(DEBDIR)/src.tar
	# The package is built as Debian builds it, whatever this make was
	# given (make check SANITIZE=... exports SANITIZE to the tests).
	cd $(DEBDIR)/src && unset MAKEFLAGS MFLAGS MAKELEVEL SANITIZE \
	    DEVELOPER VALGRIND CLOSEHOOK_BUILD && \
	    dpkg-buildpackage -b -us -uc
	@ls $(DEBDIR)/closehook_$(VERSION)_$$(dpkg-architecture -qDEB_HOST_ARCH).deb

clean:
	rm -rf build build-san build-fuzz
