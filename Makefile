# pg_toggles — one top-level build: the extension with PGXS, the daemon with plain make.
#
#   make                  build the extension (PGXS; needs only postgresql-server-dev-15)
#   make install          install it into that PostgreSQL
#   make installcheck     pg_regress, isolation specs and TAP tests of the installed
#                         extension, as a user other than root (docs/development.md)
#   make pushd            build toggles-pushd and its man page (libwebsockets, cJSON)
#   make install-pushd    install both into /usr/local
#   make deb              Debian packages into build/deb/ (docs/operations.md)
#   make dist             the PGXN archive into build/dist/, checked as PGXN would
#   make test       install missing packages, build, install, run every test suite
#   make run        install missing packages, build, start a throwaway cluster to try it
#   make deps       only install missing packages
#   make bench      build, then run the benchmarks (bench/README.md); BENCH_ARGS=--quick
#   make chaos      three nodes behind HAProxy under random faults (CHAOS_SEED, CHAOS_SECONDS)

EXTENSION  = pg_toggles
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pg_toggles.control)

MODULE_big = pg_toggles
OBJS = \
	extension/pg_toggles.o \
	extension/change_stream.o \
	extension/payload.o \
	extension/features_triggers.o \
	extension/change_log.o \
	extension/epoch.o \
	extension/retention.o \
	extension/name_rule.o \
	extension/targeting_sql.o \
	$(COMMON_OBJS)

# common/: the rule language (docs/targeting.md), the same sources in the extension and
# in toggles-pushd.
COMMON_SRCS = $(wildcard common/*.c)
COMMON_OBJS = $(patsubst %.c,%.o,$(COMMON_SRCS))

# The current version's install script is generated from sql/pg_toggles.sql; released
# versions' install scripts and every upgrade script are kept in sql/ as they shipped.
DATA = sql/$(EXTENSION)--$(EXTVERSION).sql \
	$(filter-out sql/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard sql/$(EXTENSION)--*.sql))
EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql $(UNIT_TESTS) $(TEST_TOOLS) $(PUSHD) pushd/*.o \
	$(PUSHD_ASAN) pushd/asan $(CONSOLE_SRC) $(CONSOLE_OBJ)

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
# -Wno-unused-parameter: PostgreSQL's own headers (ilist.h, bufpage.h) trip it, as does
# the fmgr convention of PG_FUNCTION_ARGS in functions that take no argument.
WARNINGS = -Wall -Wextra -Werror -Wno-unused-parameter
PG_CFLAGS = $(WARNINGS) -Icommon

# No LLVM bitcode: triggers gain nothing from JIT inlining, and it would need clang.
override with_llvm = no

# make installcheck: pg_regress in the order of tests/regress_schedule and the isolation
# specs against the running server (PGHOST, PGPORT, ...: a superuser, and
# max_prepared_transactions > 0 for validation.out, else validation_1.out is expected),
# then the TAP tests, which start clusters of their own.  scripts/test.sh runs the same
# suites on temporary instances for make test.
REGRESS = $(shell sed -n 's/^test: *//p' tests/regress_schedule)
REGRESS_OPTS = --inputdir=tests
ISOLATION = $(patsubst tests/specs/%.spec,%,$(wildcard tests/specs/*.spec))
ISOLATION_OPTS = --inputdir=tests
TAP_TESTS = 1
PROVE_TESTS = tests/t/*.pl

all: sql/$(EXTENSION)--$(EXTVERSION).sql

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

# toggles-pushd: plain make, C11, the same warnings.
PUSHD = pushd/toggles-pushd

# The live console (GET /, pushd/console.c): its page, styles and scripts and the client
# library (clients/js/src) compiled into the binary as one generated C source, remade
# whenever one of them changes; nothing is read from disk at run time.
CONSOLE_FILES = $(sort $(wildcard pushd/console/*.html pushd/console/*.css pushd/console/*.js \
	pushd/console/*.svg))
CONSOLE_LIB = $(sort $(wildcard clients/js/src/*.js))
CONSOLE_SRC = pushd/console/assets.c
CONSOLE_OBJ = pushd/console/assets.o

PUSHD_OBJS = $(patsubst %.c,%.o,$(wildcard pushd/*.c)) \
	$(patsubst common/%.c,pushd/common_%.o,$(COMMON_SRCS)) $(CONSOLE_OBJ)
PUSHD_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O2 $(WARNINGS) -Icommon -I$(shell $(PG_CONFIG) --includedir) \
	$(shell pkg-config --cflags libwebsockets libcjson) -DPUSHD_VERSION='"$(EXTVERSION)"' \
	$(PUSHD_EXTRA_CFLAGS)
PUSHD_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq $(shell pkg-config --libs libwebsockets libcjson openssl libuv)
# A packager's compiler and linker flags (debian/rules: dpkg-buildflags) go in these two.
PUSHD_EXTRA_CFLAGS =
PUSHD_LDFLAGS =
PUSHD_BINDIR = /usr/local/bin
PUSHD_MANDIR = /usr/local/share/man
# toggles-pushd(8), written by the binary from its settings table (pushd/manpage.c).
PUSHD_MAN = pushd/toggles-pushd.8

pushd: $(PUSHD) $(PUSHD_MAN)

$(PUSHD_MAN): $(PUSHD)
	$(PUSHD) --print-man > $@.tmp
	mv $@.tmp $@

pushd/%.o: pushd/%.c $(wildcard pushd/*.h) $(wildcard common/*.h)
	$(CC) $(PUSHD_CFLAGS) -c -o $@ $<

pushd/common_%.o: common/%.c $(wildcard common/*.h)
	$(CC) $(PUSHD_CFLAGS) -c -o $@ $<

$(PUSHD): $(PUSHD_OBJS)
	$(CC) $(PUSHD_LDFLAGS) -o $@ $^ $(PUSHD_LIBS)

$(CONSOLE_SRC): scripts/embed-assets.pl $(CONSOLE_FILES) $(CONSOLE_LIB)
	perl scripts/embed-assets.pl $(foreach f,$(CONSOLE_FILES),/console/$(notdir $(f))=$(f)) \
		$(foreach f,$(CONSOLE_LIB),/console/lib/$(notdir $(f))=$(f)) > $@.tmp
	mv $@.tmp $@

# The same daemon under AddressSanitizer and UBSan, for the hostile-input tests
# (scripts/test.sh hands it to them as TOGGLES_PUSHD_ASAN).
PUSHD_ASAN = pushd/toggles-pushd-asan
PUSHD_ASAN_OBJS = $(patsubst pushd/%.c,pushd/asan/%.o,$(wildcard pushd/*.c) $(CONSOLE_SRC)) \
	$(patsubst common/%.c,pushd/asan/common_%.o,$(COMMON_SRCS))

pushd/asan/%.o: pushd/%.c $(wildcard pushd/*.h) $(wildcard common/*.h)
	@mkdir -p $(@D)
	$(CC) $(PUSHD_CFLAGS) -O1 $(SANITIZE) -c -o $@ $<

pushd/asan/common_%.o: common/%.c $(wildcard common/*.h)
	@mkdir -p pushd/asan
	$(CC) $(PUSHD_CFLAGS) -O1 $(SANITIZE) -c -o $@ $<

$(PUSHD_ASAN): $(PUSHD_ASAN_OBJS)
	$(CC) $(SANITIZE) -o $@ $^ $(PUSHD_LIBS)

install-pushd: $(PUSHD) $(PUSHD_MAN)
	install -d $(DESTDIR)$(PUSHD_BINDIR) $(DESTDIR)$(PUSHD_MANDIR)/man8
	install -m 755 $(PUSHD) $(DESTDIR)$(PUSHD_BINDIR)/toggles-pushd
	install -m 644 $(PUSHD_MAN) $(DESTDIR)$(PUSHD_MANDIR)/man8/toggles-pushd.8

# C unit tests of the backend-free sources, under AddressSanitizer and UBSan.
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_TESTS = tests/unit/test_name_rule tests/unit/test_config tests/unit/test_cache \
	tests/unit/test_targeting tests/unit/test_tokens tests/unit/test_db_targets \
	tests/unit/test_epoch_order tests/unit/test_groups tests/unit/test_metrics tests/unit/test_tickets \
	tests/unit/test_shared tests/unit/test_etag
UNIT_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 $(WARNINGS) $(SANITIZE)

tests/unit/test_name_rule: tests/unit/test_name_rule.c tests/unit/unit.h extension/name_rule.c
	$(CC) -std=c11 -g -O1 -Wall -Wextra -Werror $(SANITIZE) -Iextension -Itests/unit \
		-o $@ tests/unit/test_name_rule.c extension/name_rule.c

tests/unit/test_config: tests/unit/test_config.c pushd/config.c pushd/config.h pushd/acl.c pushd/acl.h
	$(CC) $(UNIT_CFLAGS) -Ipushd -o $@ tests/unit/test_config.c pushd/config.c pushd/acl.c -lcmocka

TEST_CACHE_SRCS = pushd/cache.c pushd/toggle.c pushd/encode.c pushd/message.c pushd/context.c $(COMMON_SRCS)
tests/unit/test_cache: tests/unit/test_cache.c tests/unit/tg_hooks.h $(TEST_CACHE_SRCS) $(wildcard pushd/*.h) $(wildcard common/*.h)
	$(CC) $(UNIT_CFLAGS) -Ipushd -Icommon $(shell pkg-config --cflags libwebsockets) -o $@ \
		tests/unit/test_cache.c $(TEST_CACHE_SRCS) -lcmocka

# The rule language against tests/vectors/targeting.json, with pushd's zoneinfo reader.
tests/unit/test_targeting: tests/unit/test_targeting.c $(COMMON_SRCS) pushd/zoneinfo.c \
		$(wildcard common/*.h) pushd/zoneinfo.h
	$(CC) $(UNIT_CFLAGS) -Icommon -Ipushd $(shell pkg-config --cflags libcjson) -o $@ \
		tests/unit/test_targeting.c $(COMMON_SRCS) pushd/zoneinfo.c \
		$(shell pkg-config --libs libcjson) -lcmocka

tests/unit/test_tokens: tests/unit/test_tokens.c pushd/scope.c pushd/auth.c pushd/tokens.c \
		pushd/log.c pushd/config.c $(wildcard pushd/*.h)
	$(CC) $(UNIT_CFLAGS) -Ipushd -Icommon -I$(shell $(PG_CONFIG) --includedir) \
		$(shell pkg-config --cflags libwebsockets) -o $@ tests/unit/test_tokens.c \
		pushd/scope.c pushd/auth.c pushd/tokens.c pushd/log.c pushd/config.c pushd/acl.c \
		-L$(shell $(PG_CONFIG) --libdir) -lpq $(shell pkg-config --libs libwebsockets libcjson libcrypto) -lcmocka

tests/unit/test_db_targets: tests/unit/test_db_targets.c pushd/db_targets.c pushd/db_targets.h
	$(CC) $(UNIT_CFLAGS) -Ipushd -I$(shell $(PG_CONFIG) --includedir) -o $@ \
		tests/unit/test_db_targets.c pushd/db_targets.c -L$(shell $(PG_CONFIG) --libdir) -lpq -lcmocka

# Groups without the client layer: evaluation, sharing, what each group is sent (its sink).
TEST_GROUPS_SRCS = pushd/groups.c pushd/cache.c pushd/toggle.c pushd/encode.c pushd/message.c \
	pushd/context.c pushd/scope.c pushd/log.c pushd/config.c pushd/acl.c $(COMMON_SRCS)
tests/unit/test_groups: tests/unit/test_groups.c tests/unit/tg_hooks.h $(TEST_GROUPS_SRCS) $(wildcard pushd/*.h) $(wildcard common/*.h)
	$(CC) $(UNIT_CFLAGS) -Ipushd -Icommon -I$(shell $(PG_CONFIG) --includedir) \
		$(shell pkg-config --cflags libwebsockets libcjson) -o $@ tests/unit/test_groups.c \
		$(TEST_GROUPS_SRCS) $(shell pkg-config --libs libwebsockets libcjson) -lcmocka

TEST_METRICS_SRCS = pushd/metrics.c pushd/encode.c pushd/toggle.c $(COMMON_SRCS)
tests/unit/test_metrics: tests/unit/test_metrics.c $(TEST_METRICS_SRCS) $(wildcard pushd/*.h) \
		$(wildcard common/*.h)
	$(CC) $(UNIT_CFLAGS) -Ipushd -Icommon -o $@ tests/unit/test_metrics.c $(TEST_METRICS_SRCS) -lcmocka

tests/unit/test_epoch_order: tests/unit/test_epoch_order.c pushd/epoch_order.c pushd/epoch_order.h
	$(CC) $(UNIT_CFLAGS) -Ipushd -o $@ tests/unit/test_epoch_order.c pushd/epoch_order.c -lcmocka

tests/unit/test_etag: tests/unit/test_etag.c pushd/etag.c pushd/etag.h pushd/epoch_order.c pushd/epoch_order.h \
		common/tg_json.c common/tg_json.h
	$(CC) $(UNIT_CFLAGS) -Ipushd -Icommon -o $@ tests/unit/test_etag.c pushd/etag.c pushd/epoch_order.c \
		common/tg_json.c -lcmocka

tests/unit/test_shared: tests/unit/test_shared.c pushd/shared.c pushd/shared.h pushd/log.c pushd/log.h pushd/config.c pushd/acl.c
	$(CC) $(UNIT_CFLAGS) -Ipushd -o $@ tests/unit/test_shared.c pushd/shared.c pushd/log.c \
		pushd/config.c pushd/acl.c -lcmocka

tests/unit/test_tickets: tests/unit/test_tickets.c pushd/tickets.c pushd/tickets.h
	$(CC) $(UNIT_CFLAGS) -Ipushd -Icommon -I$(shell $(PG_CONFIG) --includedir) \
		$(shell pkg-config --cflags libwebsockets libcjson) -o $@ tests/unit/test_tickets.c \
		pushd/tickets.c $(shell pkg-config --libs openssl) -lcmocka

unit-tests: $(UNIT_TESTS)

# make coverage: line coverage (gcov) of groups, the sequencer, sync, pglink, the cache and
# the encoder by the C unit tests alone (scripts/coverage.sh; docs/development.md, "Layers").
coverage:
	scripts/coverage.sh

# Tools the TAP tests run: a libpq LISTEN client; the network lab's helper, which
# scripts/test.sh installs setuid root (tests/tools/netlab_ctl.c says why that is safe);
# the benchmark's load generator, for the connect storm of TAP 034.
TEST_TOOLS = tests/tools/toggles_listen tests/tools/netlab_ctl tests/tools/loadgen

tests/tools/toggles_listen: tests/tools/toggles_listen.c
	$(CC) -std=c11 -g -O2 $(WARNINGS) -I$(shell $(PG_CONFIG) --includedir) -o $@ $< \
		-L$(shell $(PG_CONFIG) --libdir) -lpq

tests/tools/netlab_ctl: tests/tools/netlab_ctl.c
	$(CC) -std=c11 -g -O2 $(WARNINGS) -o $@ $<

tests/tools/loadgen: $(wildcard bench/loadgen/*.c bench/loadgen/*.h)
	$(CC) -std=c11 -D_GNU_SOURCE -g -O2 $(WARNINGS) -I$(shell $(PG_CONFIG) --includedir) -o $@ \
		$(filter %.c,$^) -L$(shell $(PG_CONFIG) --libdir) -lpq -lpthread -lm

test-tools: $(TEST_TOOLS)

deps:
	scripts/deps.sh

test: deps
	$(MAKE) all pushd unit-tests test-tools fuzz-replay $(PUSHD_ASAN)
	$(MAKE) install install-pushd
	scripts/test.sh

run: deps
	$(MAKE) all pushd
	$(MAKE) install install-pushd
	scripts/run.sh

# make chaos: three nodes behind HAProxy, faults at random (tests/t/051_chaos.pl), for
# CHAOS_SECONDS (default 480: with set-up and checks, under ten minutes); a new seed each
# run unless CHAOS_SEED is given, printed so that a run can be replayed.
CHAOS_SECONDS ?= 480
chaos: deps
	$(MAKE) all pushd test-tools
	$(MAKE) install install-pushd
	TOGGLES_SUITES=tap TOGGLES_TAP_TESTS=t/051_chaos.pl CHAOS_SECONDS=$(CHAOS_SECONDS) \
		CHAOS_SEED=$${CHAOS_SEED:-$$(date +%s)} scripts/test.sh

.PHONY: deps test run bench unit-tests test-tools pushd install-pushd chaos coverage

# make console-screenshot: docs/console.png again, as the browser test (tests/t/061)
# takes it of a real pushd in Debian's Chromium.
console-screenshot: deps
	$(MAKE) all pushd
	$(MAKE) install install-pushd
	TOGGLES_SUITES=tap TOGGLES_TAP_TESTS=t/061_console_browser.pl \
		TOGGLES_CONSOLE_SHOT=$(CURDIR)/docs/console.png scripts/test.sh

.PHONY: console-screenshot

# ---- installcheck, packages, PGXN (docs/development.md, "PGXS targets") ----------------
# The TAP tests start their own clusters, which PostgreSQL refuses to run as root; they
# use the daemon just built, when there is one (else the one on PATH, else they skip).
installcheck: installcheck-not-as-root tests/tools/toggles_listen
installcheck: export TOGGLES_TOOLS = $(CURDIR)/tests/tools
installcheck: export TOGGLES_PUSHD = $(if $(wildcard $(PUSHD)),$(CURDIR)/$(PUSHD))

installcheck-not-as-root:
	@if [ "$$(id -u)" = 0 ] && [ -n "$(TAP_TESTS)" ]; then \
		echo "make installcheck: the TAP tests start PostgreSQL, which refuses to run as root;"; \
		echo "run it as another user (docs/development.md), or as root with TAP_TESTS= to run"; \
		echo "only pg_regress and the isolation specs against the running server."; \
		exit 1; fi

deb:
	scripts/deb.sh

dist:
	scripts/dist.sh

EXTRA_CLEAN += $(PUSHD_MAN) build/
.PHONY: installcheck-not-as-root deb dist

bench:
	scripts/deps.sh bench
	$(MAKE) all pushd
	$(MAKE) install install-pushd
	bench/run.sh $(BENCH_ARGS)

# ---- fuzzing (docs/development.md, "Fuzzing") ------------------------------------------
# Every tests/fuzz/fuzz_NAME.c is a target: libFuzzer's LLVMFuzzerTestOneInput over the
# sources in FUZZ_SRCS_NAME, with its seed corpus (and regressions/) in tests/fuzz/NAME/
# and an optional dictionary tests/fuzz/NAME.dict.  `make fuzz` builds each with clang's
# libFuzzer and runs it for FUZZ_SECONDS; `make fuzz-replay` builds each with gcc and
# tests/fuzz/replay_main.c, which scripts/test.sh runs over tests/fuzz/NAME/.
.SECONDEXPANSION:
FUZZ_SRCS_rules = $(COMMON_SRCS) pushd/zoneinfo.c
FUZZ_SRCS_context = $(COMMON_SRCS) pushd/zoneinfo.c
FUZZ_SRCS_zoneinfo = pushd/zoneinfo.c $(COMMON_SRCS)
FUZZ_SRCS_config = pushd/config.c pushd/acl.c
FUZZ_SRCS_auth = pushd/auth.c pushd/scope.c pushd/tokens.c pushd/log.c pushd/config.c pushd/acl.c
FUZZ_CONTEXT_SRCS = tests/fuzz/take_context.c pushd/context.c pushd/encode.c pushd/toggle.c $(COMMON_SRCS)
FUZZ_SRCS_message = pushd/client_input.c $(FUZZ_CONTEXT_SRCS)
FUZZ_SRCS_query = pushd/client_input.c $(FUZZ_CONTEXT_SRCS)
FUZZ_SRCS_ofrep = pushd/ofrep_body.c $(FUZZ_CONTEXT_SRCS)
FUZZ_SRCS_etag = pushd/etag.c pushd/epoch_order.c common/tg_json.c

FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_BIN = tests/fuzz/bin
FUZZ_INCLUDES = -Icommon -Ipushd -Itests/fuzz -Itests/unit -I$(shell $(PG_CONFIG) --includedir) \
	$(shell pkg-config --cflags libwebsockets libcjson)
FUZZ_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq \
	$(shell pkg-config --libs libwebsockets libcjson libcrypto)
FUZZ_HEADERS = tests/fuzz/fuzz.h $(wildcard pushd/*.h) $(wildcard common/*.h)

$(FUZZ_BIN)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HEADERS) $$(FUZZ_SRCS_$$*)
	@mkdir -p $(FUZZ_BIN)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 $(WARNINGS) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
		$(FUZZ_INCLUDES) -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LIBS)

$(FUZZ_BIN)/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(FUZZ_HEADERS) $$(FUZZ_SRCS_$$*)
	@mkdir -p $(FUZZ_BIN)
	$(CC) $(UNIT_CFLAGS) $(FUZZ_INCLUDES) -o $@ tests/fuzz/replay_main.c $< $(FUZZ_SRCS_$*) \
		$(FUZZ_LIBS)

fuzz-replay: $(patsubst %,$(FUZZ_BIN)/replay_%,$(FUZZ_TARGETS))

fuzz-build: $(patsubst %,$(FUZZ_BIN)/fuzz_%,$(FUZZ_TARGETS))

# clang and its libFuzzer runtime are installed for this target only.
fuzz:
	scripts/deps.sh fuzz
	$(MAKE) fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)

EXTRA_CLEAN += $(FUZZ_BIN)
.PHONY: fuzz fuzz-build fuzz-replay
# ---- end of fuzzing ---------------------------------------------------------------------
