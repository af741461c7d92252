# pg_toggles — one top-level build: the extension with PGXS, the daemon with plain make.
#
#   make            build the extension (and, once pushd/ exists, toggles-pushd)
#   make install    install both
#   make test       install missing packages, build, install, run every test suite
#   make run        install missing packages, build, start a throwaway cluster to try it
#   make deps       only install missing packages
#   make bench      build, then run the benchmarks (bench/README.md); BENCH_ARGS=--quick

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
	extension/name_rule.o

# The current version's install script is generated from sql/pg_toggles.sql; released
# versions' install scripts and every upgrade script are kept in sql/ as they shipped.
DATA = sql/$(EXTENSION)--$(EXTVERSION).sql \
	$(filter-out sql/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard sql/$(EXTENSION)--*.sql))
EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql $(UNIT_TESTS) $(TEST_TOOLS) $(PUSHD) pushd/*.o

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
# -Wno-unused-parameter: PostgreSQL's own headers (ilist.h, bufpage.h) trip it, as does
# the fmgr convention of PG_FUNCTION_ARGS in functions that take no argument.
WARNINGS = -Wall -Wextra -Werror -Wno-unused-parameter
PG_CFLAGS = $(WARNINGS)

# No LLVM bitcode: triggers gain nothing from JIT inlining, and it would need clang.
override with_llvm = no

all: sql/$(EXTENSION)--$(EXTVERSION).sql

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

# toggles-pushd: plain make, C11, the same warnings.
PUSHD = pushd/toggles-pushd
PUSHD_OBJS = $(patsubst %.c,%.o,$(wildcard pushd/*.c))
PUSHD_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O2 $(WARNINGS) -I$(shell $(PG_CONFIG) --includedir) \
	$(shell pkg-config --cflags libwebsockets libcjson)
PUSHD_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq $(shell pkg-config --libs libwebsockets libcjson)
PUSHD_BINDIR = /usr/local/bin

all: $(PUSHD)

pushd/%.o: pushd/%.c $(wildcard pushd/*.h)
	$(CC) $(PUSHD_CFLAGS) -c -o $@ $<

$(PUSHD): $(PUSHD_OBJS)
	$(CC) -o $@ $^ $(PUSHD_LIBS)

install: install-pushd
install-pushd: $(PUSHD)
	install -d $(DESTDIR)$(PUSHD_BINDIR)
	install -m 755 $(PUSHD) $(DESTDIR)$(PUSHD_BINDIR)/toggles-pushd

# C unit tests of the backend-free sources, under AddressSanitizer and UBSan.
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_TESTS = tests/unit/test_name_rule tests/unit/test_config tests/unit/test_cache
UNIT_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 $(WARNINGS) $(SANITIZE)

tests/unit/test_name_rule: tests/unit/test_name_rule.c tests/unit/unit.h extension/name_rule.c
	$(CC) -std=c11 -g -O1 -Wall -Wextra -Werror $(SANITIZE) -Iextension -Itests/unit \
		-o $@ tests/unit/test_name_rule.c extension/name_rule.c

tests/unit/test_config: tests/unit/test_config.c pushd/config.c pushd/config.h
	$(CC) $(UNIT_CFLAGS) -Ipushd -o $@ tests/unit/test_config.c pushd/config.c -lcmocka

tests/unit/test_cache: tests/unit/test_cache.c pushd/cache.c pushd/encode.c pushd/message.c $(wildcard pushd/*.h)
	$(CC) $(UNIT_CFLAGS) -Ipushd $(shell pkg-config --cflags libwebsockets) -o $@ \
		tests/unit/test_cache.c pushd/cache.c pushd/encode.c pushd/message.c -lcmocka

unit-tests: $(UNIT_TESTS)

# Tools the TAP tests run: a libpq LISTEN client.
TEST_TOOLS = tests/tools/toggles_listen

tests/tools/toggles_listen: tests/tools/toggles_listen.c
	$(CC) -std=c11 -g -O2 $(WARNINGS) -I$(shell $(PG_CONFIG) --includedir) -o $@ $< \
		-L$(shell $(PG_CONFIG) --libdir) -lpq

test-tools: $(TEST_TOOLS)

deps:
	scripts/deps.sh

test: deps
	$(MAKE) all unit-tests test-tools
	$(MAKE) install
	scripts/test.sh

run: deps
	$(MAKE) all
	$(MAKE) install
	scripts/run.sh

bench: deps
	$(MAKE) all
	$(MAKE) install
	bench/run.sh $(BENCH_ARGS)

.PHONY: deps test run bench unit-tests test-tools install-pushd
