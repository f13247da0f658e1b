# ipcplay — one non-recursive Makefile.
#
#   make run      install what is missing, build, run the quick side-by-side benchmark
#   make test     install what is missing, build, run every test
#   make test SANITIZE=address|undefined|thread    the same under a sanitizer
#   make bench    the full benchmark sweep          make demos / make viz / make clean
#   make install [PREFIX=/usr/local] [DESTDIR=]    libraries, headers, ipcplay.pc, man pages,
#                 binaries, scenarios, the Python package (see README: outside the tree)
#   make fuzz     each libFuzzer target (tests/fuzz/) 10^7 executions (FUZZ_RUNS=...)
#
# Sources are found by wildcard: a new mechanisms/<family>/<name>.c, tests/test_<name>.c,
# demos/<name>.c needs no edit here.  All output goes to $(BUILD) (default build/).

BUILD    ?= build
SANITIZE ?=

# ---- brokers: optional, each needs its own library ---------------------------
# BROKERS is a list (default: all of them); `make BROKERS=none`, `make
# BROKERS=zmq`, `make test BROKERS="redis amqp"` ...  A broker left out is not
# compiled (mechanisms/brokers/<name>.c), its registry line is compiled out
# (registry.c: #ifdef IPC_WITH_<NAME>), its pkg-config package is never asked
# for, and every test, demo or bench source that includes its header
# brokers/ipc_<name>.h is skipped, unless that source guards the broker's
# parts itself with #ifdef IPC_WITH_<NAME> (then it is built either way).
# Adding a broker = one line here, "name:pkg-config-package", plus its file
# and its #ifdef'd registry line:
BROKER_TABLE := zmq:libzmq redis:hiredis websocket:libwebsockets amqp:librabbitmq
BROKERS_ALL  := $(foreach b,$(BROKER_TABLE),$(word 1,$(subst :, ,$(b))))
BROKERS      ?= $(BROKERS_ALL)
BROKERS_ON   := $(filter-out none,$(BROKERS))
ifneq ($(filter-out $(BROKERS_ALL) none,$(BROKERS)),)
  $(error BROKERS: unknown '$(filter-out $(BROKERS_ALL) none,$(BROKERS))' (known: $(BROKERS_ALL), none))
endif
BROKERS_OFF  := $(filter-out $(BROKERS_ON),$(BROKERS_ALL))
broker_pkg    = $(word 2,$(subst :, ,$(filter $(1):%,$(BROKER_TABLE))))
BROKER_PKGS  := $(foreach b,$(BROKERS_ON),$(call broker_pkg,$(b)))
BROKER_DEFS  := $(foreach b,$(BROKERS_ON),-DIPC_WITH_$(shell echo $(b) | tr a-z A-Z))
# A build without some broker goes to its own directory: objects built with
# other -DIPC_WITH_* flags are never mixed in.
BUILD_SUFFIX := $(if $(BROKERS_OFF),/brokers-$(if $(BROKERS_ON),$(subst $() ,-,$(strip $(BROKERS_ON))),none))
ifeq ($(origin CC),default)
  CC := gcc
endif
ifeq ($(origin CXX),default)
  CXX := g++
endif
PKG      ?= pkg-config

ifneq ($(SANITIZE),)
  OUT := $(BUILD)$(BUILD_SUFFIX)/san-$(SANITIZE)
  ifeq ($(SANITIZE),address)
    SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  else ifeq ($(SANITIZE),undefined)
    SANFLAGS := -fsanitize=undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  else ifeq ($(SANITIZE),thread)
    SANFLAGS := -fsanitize=thread
  else
    $(error SANITIZE must be address, undefined or thread, not '$(SANITIZE)')
  endif
  OPT := -O1 -g
else
  OUT := $(BUILD)$(BUILD_SUFFIX)
  OPT := -O2 -g
endif

# Libraries come from Debian packages through pkg-config.  Before `make deps` has
# run, pkg-config may not know them: ask quietly, the deps step fixes it.
PKGS_LIB  := $(BROKER_PKGS)
PKGS_TEST := cmocka
PKGS_VIZ  := sdl2 SDL2_ttf SDL2_image
PKGS_BENCH:= benchmark
pkgcflags = $(shell $(PKG) --cflags $(1) 2>/dev/null)
pkglibs   = $(shell $(PKG) --libs $(1) 2>/dev/null)

WARN     := -Wall -Wextra -Werror
# Public headers live as they are installed (mechanisms/include/ipcplay/...);
# private ones (ipc_internal.h, engines, core) under mechanisms/.
INCLUDES := -Imechanisms/include/ipcplay -Imechanisms
CFLAGS   := -std=c11 $(OPT) $(WARN) -pthread -MMD -MP $(INCLUDES) $(SANFLAGS) $(BROKER_DEFS) $(call pkgcflags,$(PKGS_LIB)) $(EXTRA_CFLAGS)
CXXFLAGS := -std=c++17 $(OPT) $(WARN) -pthread -MMD -MP $(INCLUDES) -Ibench -DNDEBUG $(SANFLAGS) $(BROKER_DEFS) $(call pkgcflags,$(PKGS_BENCH))
LDFLAGS  := -pthread $(SANFLAGS)
LIBS     := $(call pkglibs,$(PKGS_LIB)) -lrt -lm

# ---- the library ----------------------------------------------------------
# Sources that need a broker left out of this build: its own file, and any
# program source including its header without guarding it (IPC_WITH_<NAME>).
BROKER_OFF_SRC = $(foreach b,$(BROKERS_OFF),mechanisms/brokers/$(b).c \
  $(shell grep -L 'IPC_WITH_' $$(grep -l 'brokers/ipc_$(b)\.h' $(1) /dev/null) /dev/null 2>/dev/null))
LIB_SRC  := $(sort $(filter-out $(call BROKER_OFF_SRC,),$(wildcard mechanisms/*.c mechanisms/*/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(OUT)/obj/%.o)
LIB      := $(OUT)/libipcplay.a

# ---- the shared library, man pages, install (issue 15: usable outside the tree)
# libipcplay.so.$(SO_VERSION) (soname libipcplay.so.$(SO_MAJOR)) exports exactly
# the calls the public headers declare: the version script is generated from
# them by scripts/gen-api, and everything else is local.  The library's objects
# are built -fPIC once and go into both libraries: measured with callgrind, a
# send+receive pair costs the same instructions from a -fPIC archive as from a
# non-PIC one (queue, procq, shm_spsc, pipe, posix_mq: within 0.4%), and +1 or 2
# instructions (<= 0.3%) through the shared library's PLT.
SO_MAJOR   := 0
SO_VERSION := 0.1.0
SONAME     := libipcplay.so.$(SO_MAJOR)
SOLIB      := $(OUT)/libipcplay.so.$(SO_VERSION)
# Public headers, as installed under include/ipcplay/ (a broker left out of the
# build leaves its header out too, once BROKERS= exists).
PUBLIC_HDRS:= $(sort $(filter-out $(BROKERS_OFF:%=mechanisms/include/ipcplay/brokers/ipc_%.h), \
              $(wildcard mechanisms/include/ipcplay/*.h mechanisms/include/ipcplay/*/*.h)))
MAN_STAMP  := $(OUT)/man/.stamp

# ---- tests: tests/test_*.c are programs; other tests/*.c are linked into each
TEST_SRC     := $(sort $(filter-out $(call BROKER_OFF_SRC,tests/*.c),$(wildcard tests/test_*.c)))
TEST_HELPERS := $(filter-out tests/test_%.c,$(wildcard tests/*.c))
TEST_HELP_OBJ:= $(TEST_HELPERS:%.c=$(OUT)/obj/%.o)
TEST_BIN     := $(TEST_SRC:tests/%.c=$(OUT)/tests/%)
# Test hooks are built only into the tests (issue 11): a library source with
# code under #ifdef IPC_TESTING (fault injection: engines/ring.c's lock hook)
# is compiled a second time with -DIPC_TESTING into $(OUT)/obj-testing/, and
# the tests link $(TEST_LIB), the library with those objects swapped in.  The
# shipped $(LIB) and $(SOLIB) never contain a hook (tests/outside.sh checks
# `nm -D`).  The TSan suppressions for libzmq (tests/tsan_suppressions.c) are
# linked into the programs of a SANITIZE=thread build only ($(TSAN_OBJ)).
TESTING_SRC  := $(shell grep -l 'ifdef IPC_TESTING' $(LIB_SRC) 2>/dev/null)
TEST_LIB     := $(OUT)/libipcplay-testing.a
TEST_LIB_OBJ := $(filter-out $(TESTING_SRC:%.c=$(OUT)/obj/%.o),$(LIB_OBJ)) $(TESTING_SRC:%.c=$(OUT)/obj-testing/%.o)
TSAN_OBJ     := $(if $(filter thread,$(SANITIZE)),$(OUT)/obj/tests/tsan_suppressions.o)

# ---- demos: one program per file ------------------------------------------
DEMO_SRC := $(sort $(filter-out $(call BROKER_OFF_SRC,demos/*.c),$(wildcard demos/*.c)))
DEMO_BIN := $(DEMO_SRC:demos/%.c=$(OUT)/demos/%)

# ---- exercises: exercises/NN_name/{starter,solution}.c -> two programs each;
# starter.c is generated from solution.c by scripts/make-starters (one source)
EX_SRC := $(sort $(wildcard exercises/*/starter.c exercises/*/solution.c))
EX_BIN := $(EX_SRC:exercises/%.c=$(OUT)/exercises/%)

$(OUT)/exercises/%: exercises/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@

# ---- benchmarks: bench/*.c + the C++ shim -> one program ------------------
BENCH_C   := $(sort $(filter-out $(call BROKER_OFF_SRC,bench/*.c),$(wildcard bench/*.c)))
BENCH_CC  := $(sort $(wildcard bench/*.cc))
BENCH_OBJ := $(BENCH_C:%.c=$(OUT)/obj/%.o) $(BENCH_CC:%.cc=$(OUT)/obj/%.o)
BENCH_BIN := $(if $(BENCH_C),$(OUT)/ipcbench)

# ---- visualizer -----------------------------------------------------------
VIZ_SRC := $(sort $(wildcard viz/*.c))
VIZ_OBJ := $(VIZ_SRC:%.c=$(OUT)/obj/%.o)
VIZ_BIN := $(if $(VIZ_SRC),$(OUT)/ipcviz)

# ---- ipcplay-clean: removes the names killed creators left (core/stale.c)
CLEAN_BIN := $(OUT)/ipcplay-clean
# ---- ipcstress: the fault and load campaigns (make stress; --short in make test)
STRESS_BIN := $(OUT)/ipcstress

.PHONY: all run test bench demos viz deps install clean build-tests exercises clean-ipc stress fuzz fuzz-build
# No object is an intermediate file.  A program's object (build/obj/demos/x.o)
# is made by a pattern rule only, so on a fresh build make deleted it once the
# program was linked; the next make read its .d file, which names it, found it
# missing and relinked the program.  The `make install` of test_outside did
# that to every demo while test_demos ran them (CI, stop 22: "file_lock is not
# built").
.SECONDARY:
.DEFAULT_GOAL := all

all: $(LIB) $(SOLIB) $(MAN_STAMP) $(TEST_BIN) $(DEMO_BIN) $(BENCH_BIN) $(VIZ_BIN) $(EX_BIN) $(CLEAN_BIN) $(STRESS_BIN)

deps:
	@IPCPLAY_BROKERS="$(BROKERS_ON)" scripts/install-deps

$(OUT)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/obj/viz/%.o: viz/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkgcflags,$(PKGS_VIZ)) -c $< -o $@

$(OUT)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkgcflags,$(PKGS_TEST)) -Itests -DIPC_TESTING -c $< -o $@

$(OUT)/obj-testing/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -DIPC_TESTING -c $< -o $@

$(OUT)/obj/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# websocket.c builds its browser page in with .incbin (the assembler reads it).
$(OUT)/obj/mechanisms/brokers/websocket.o: mechanisms/brokers/websocket_page.html

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(TEST_LIB): $(TEST_LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(OUT)/tests/%: $(OUT)/obj/tests/%.o $(TEST_HELP_OBJ) $(TEST_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(TEST_HELP_OBJ) $(TEST_LIB) $(call pkglibs,$(PKGS_TEST)) $(LIBS) -o $@

$(OUT)/demos/%: $(OUT)/obj/demos/%.o $(LIB) $(TSAN_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(TSAN_OBJ) $(LIB) $(LIBS) -o $@

# ipcbench records how it was built in every result file (bench/context.c).
$(OUT)/obj/bench/context.o: CFLAGS += -DIPCBENCH_CFLAGS='"$(OPT) $(SANFLAGS) $(EXTRA_CFLAGS)"' \
  -DIPCBENCH_BUILD='"$(if $(SANITIZE),sanitize=$(SANITIZE),release) ($(OPT))"'
$(OUT)/ipcbench: $(BENCH_OBJ) $(LIB) $(TSAN_OBJ)
	$(CXX) $(LDFLAGS) $(BENCH_OBJ) $(TSAN_OBJ) $(LIB) $(call pkglibs,$(PKGS_BENCH)) $(LIBS) -o $@

# tests/test_bench drives the C++ shim itself, then runs ipcbench and bench/report.py.
$(OUT)/obj/tests/test_bench.o: CFLAGS += -Ibench
$(OUT)/tests/test_bench: $(OUT)/obj/tests/test_bench.o $(TEST_HELP_OBJ) $(OUT)/obj/bench/gbench_shim.o $(TEST_LIB) | $(BENCH_BIN)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< $(TEST_HELP_OBJ) $(OUT)/obj/bench/gbench_shim.o $(TEST_LIB) $(call pkglibs,$(PKGS_TEST) $(PKGS_BENCH)) $(LIBS) -o $@

$(CLEAN_BIN): $(OUT)/obj/scripts/ipcplay-clean.o $(LIB)
	$(CC) $(LDFLAGS) $< $(LIB) $(LIBS) -o $@

$(STRESS_BIN): $(OUT)/obj/scripts/ipcstress.o $(LIB) $(TSAN_OBJ)
	$(CC) $(LDFLAGS) $< $(TSAN_OBJ) $(LIB) $(LIBS) -o $@

$(OUT)/ipcviz: $(VIZ_OBJ) $(LIB) $(TSAN_OBJ)
	$(CC) $(LDFLAGS) $(VIZ_OBJ) $(TSAN_OBJ) $(LIB) $(call pkglibs,$(PKGS_VIZ)) $(LIBS) -o $@

# tests/test_viz drives the visualizer itself: viz/ without its main, and SDL.
VIZ_TEST_OBJ := $(filter-out $(OUT)/obj/viz/main.o,$(VIZ_OBJ))
$(OUT)/obj/tests/test_viz.o: CFLAGS += $(call pkgcflags,$(PKGS_VIZ)) -Iviz
$(OUT)/tests/test_viz: $(OUT)/obj/tests/test_viz.o $(TEST_HELP_OBJ) $(VIZ_TEST_OBJ) $(TEST_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(TEST_HELP_OBJ) $(VIZ_TEST_OBJ) $(TEST_LIB) $(call pkglibs,$(PKGS_TEST) $(PKGS_VIZ)) $(LIBS) -o $@

# ---- fuzz targets: tests/fuzz/<target>.c, libFuzzer + ASan/UBSan (clang) ---
# The library is rebuilt with clang into $(BUILD)/fuzz (not $(OUT): the
# targets always carry ASan, whatever SANITIZE says; a build without some
# broker uses its own $(BUILD)/brokers-.../fuzz, since registry.c is compiled
# with the broker -D flags).  `make fuzz` runs each
# target FUZZ_RUNS times (10^7) from its seed corpus tests/fuzz/<target>/corpus
# (new inputs go to $(BUILD)/fuzz/corpus/<target>, crashes to
# $(BUILD)/fuzz/crashes); test_fuzz_smoke runs each for a few seconds in
# `make test`.  Without clang the targets are skipped (and the smoke test says so).
FUZZ_CC   ?= $(shell command -v clang-14 || command -v clang)
FUZZ_OUT  := $(BUILD)$(BUILD_SUFFIX)/fuzz
FUZZ_RUNS ?= 10000000
# targets fuzzed at a time (the machine has 2 vCPUs); per-target flags and
# budgets in tests/fuzz/<target>/options (scripts/run-fuzz)
FUZZ_PARALLEL ?= 2
# A target named <broker>_*.c needs that broker (left out with it).
FUZZ_SRC  := $(filter-out $(foreach b,$(BROKERS_OFF),tests/fuzz/$(b)_%.c),$(sort $(wildcard tests/fuzz/*.c)))
FUZZ_BIN  := $(if $(FUZZ_CC),$(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_OUT)/%))
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -O1 -g -Wall -Wextra -pthread -MMD -MP $(INCLUDES) $(FUZZ_SAN) $(BROKER_DEFS) \
               $(call pkgcflags,$(PKGS_LIB))
FUZZ_LIB  := $(FUZZ_OUT)/libipcplay.a

$(FUZZ_OUT)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB): $(LIB_SRC:%.c=$(FUZZ_OUT)/obj/%.o)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_OUT)/%: tests/fuzz/%.c $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB) $(LIBS) -o $@

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_OUT=$(FUZZ_OUT) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_PARALLEL=$(FUZZ_PARALLEL) scripts/run-fuzz

# The user-facing targets install what is missing first, then build in a
# second make so that pkg-config sees the freshly installed packages.
build-tests: $(LIB) $(SOLIB) $(MAN_STAMP) $(OUT)/tests/test_outside $(TEST_BIN) $(DEMO_BIN) $(BENCH_BIN) $(VIZ_BIN) $(EX_BIN) $(CLEAN_BIN) $(STRESS_BIN) $(FUZZ_BIN)

test: deps
	@$(MAKE) --no-print-directory build-tests
	@OUT=$(OUT) SANITIZE=$(SANITIZE) IPCPLAY_FUZZ_DIR=$(FUZZ_OUT) scripts/run-tests

run: deps
	@mkdir -p $(OUT)/results
	@$(MAKE) --no-print-directory $(LIB) $(BENCH_BIN) $(DEMO_BIN) >$(OUT)/results/build.log 2>&1 \
	  || { tail -n 40 $(OUT)/results/build.log; exit 1; }
	@echo "build: ok (compiler output in $(OUT)/results/build.log)"
	@OUT=$(OUT) scripts/run-main

bench: deps
	@$(MAKE) --no-print-directory $(LIB) $(BENCH_BIN)
	@OUT=$(OUT) scripts/run-bench

demos: deps
	@$(MAKE) --no-print-directory $(DEMO_BIN)

exercises: deps
	@$(MAKE) --no-print-directory $(EX_BIN)
	@echo "exercises built in $(OUT)/exercises/: run NN_name/starter, complete its TODOs until it prints PASS"

viz: deps
	@$(MAKE) --no-print-directory $(VIZ_BIN)
	$(VIZ_BIN)

# ---- shared library, man pages, install ----------------------------------
$(LIB_OBJ): CFLAGS += -fPIC
# Objects an older tree built without -fPIC are rebuilt once: the stamp is newer.
$(LIB_OBJ): $(OUT)/obj/.fpic
$(OUT)/obj/.fpic:
	@mkdir -p $(@D) && touch $@

$(OUT)/libipcplay.map: $(PUBLIC_HDRS) scripts/gen-api
	@mkdir -p $(@D)
	scripts/gen-api map $(PUBLIC_HDRS) > $@.tmp && mv $@.tmp $@

# --no-undefined: every library the .so needs is named here (and in ipcplay.pc).
$(SOLIB): $(LIB_OBJ) $(OUT)/libipcplay.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(OUT)/libipcplay.map -Wl,--no-undefined \
	  $(LDFLAGS) $(LIB_OBJ) $(LIBS) -o $@
	ln -sf $(notdir $@) $(OUT)/$(SONAME)
	ln -sf $(SONAME) $(OUT)/libipcplay.so

# Section-3 pages for every call and ipcplay(7), generated from the header
# comments (the one source of truth) and the registry of the built library:
# python's ctypes binding loads this build's $(SOLIB), so ipcplay(7) lists
# exactly the mechanisms this BROKERS= build registers, sanitized or not.
# A sanitized $(SOLIB) brings its runtime into an uninstrumented python:
#  - address: ASan's link-order check (runtime loaded first) would refuse: skipped;
#  - thread: libtsan.so.2 (gcc 12) has a 0xbfd60-byte (768 KiB) initial-exec TLS
#    segment, more than the static TLS a dlopen() may take by default ("cannot
#    allocate memory in static TLS block"); glibc's optional_static_tls tunable
#    (glibc >= 2.35) reserves 2 MiB for it.  Preloading libtsan into python
#    instead was tried: python 3.11 dies of SIGSEGV at start-up under it.
#    gen-api only reads the registry table and the error texts (no thread).
MAN_ENV := $(if $(filter address,$(SANITIZE)),ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0) \
           $(if $(filter thread,$(SANITIZE)),GLIBC_TUNABLES=glibc.rtld.optional_static_tls=2097152)
$(MAN_STAMP): $(PUBLIC_HDRS) scripts/gen-api $(SOLIB) $(wildcard python/ipcplay/*.py)
	rm -rf $(OUT)/man && mkdir -p $(OUT)/man
	$(MAN_ENV) IPCPLAY_VERSION=$(SO_VERSION) scripts/gen-api man $(OUT)/man --lib $(SOLIB) $(PUBLIC_HDRS)
	touch $@

# The installed-library test (tests/outside.sh) runs with the other tests.
$(OUT)/tests/test_outside: tests/outside.sh
	@mkdir -p $(@D)
	install -m 755 $< $@

# make install [PREFIX=/usr/local] [DESTDIR=staging]: libraries, headers,
# ipcplay.pc, the binaries (demos under libexec/ipcplay/), the visualizer's
# scenarios, man pages and the Python package.
PREFIX     ?= /usr/local
BINDIR     := $(PREFIX)/bin
LIBDIR     := $(PREFIX)/lib
INCDIR     := $(PREFIX)/include
DATADIR    := $(PREFIX)/share/ipcplay
MANDIR     := $(PREFIX)/share/man
LIBEXECDIR := $(PREFIX)/libexec/ipcplay
PYDIR      := $(PREFIX)/lib/python3/dist-packages
# A prefix the dynamic loader does not search gets an rpath in ipcplay.pc, so
# that a program built with `pkg-config --libs ipcplay` runs as it is.
PC_RPATH   := $(if $(filter /usr /usr/,$(PREFIX)),,-Wl,-rpath,$${libdir})
PC_REQUIRES:= $(PKGS_LIB)

# ipcplay.pc names this install's prefix: written by every make install.
define write_pc
	printf '%s\n' 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' 'libdir=$(LIBDIR)' 'includedir=$(INCDIR)' '' \
	  'Name: ipcplay' 'Description: IPC mechanisms behind one interface (ipc.h)' 'Version: $(SO_VERSION)' \
	  'Requires.private: $(PC_REQUIRES)' \
	  'Cflags: -I$${includedir}/ipcplay -I$${includedir}' \
	  'Libs: -L$${libdir} $(PC_RPATH) -lipcplay' \
	  'Libs.private: -lrt -lm -pthread' > $(1)
endef

install: $(LIB) $(SOLIB) $(MAN_STAMP) $(BENCH_BIN) $(VIZ_BIN) $(DEMO_BIN) $(CLEAN_BIN)
	$(call write_pc,$(OUT)/ipcplay.pc)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) \
	  $(DESTDIR)$(DATADIR)/scenarios $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(PYDIR)/ipcplay
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SOLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SOLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libipcplay.so
	install -m 644 $(OUT)/ipcplay.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	cd mechanisms/include && for h in $(PUBLIC_HDRS:mechanisms/include/%=%); do \
	  install -D -m 644 $$h $(DESTDIR)$(INCDIR)/$$h || exit 1; done
	$(if $(BENCH_BIN),install -m 755 $(BENCH_BIN) $(DESTDIR)$(BINDIR)/)
	$(if $(BENCH_BIN),install -d $(DESTDIR)$(DATADIR)/bench && install -m 644 bench/*.py $(DESTDIR)$(DATADIR)/bench/)
	$(if $(VIZ_BIN),install -m 755 $(VIZ_BIN) $(DESTDIR)$(BINDIR)/)
	$(if $(CLEAN_BIN),install -m 755 $(CLEAN_BIN) $(DESTDIR)$(BINDIR)/)
	$(if $(DEMO_BIN),install -m 755 $(DEMO_BIN) $(DESTDIR)$(LIBEXECDIR)/)
	install -m 644 viz/scenarios/*.scn $(DESTDIR)$(DATADIR)/scenarios/
	install -m 644 $(OUT)/man/man3/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(OUT)/man/man7/*.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 644 python/ipcplay/*.py $(DESTDIR)$(PYDIR)/ipcplay/
	printf '# written by make install\nLIBDIR = "%s"\n' '$(LIBDIR)' > $(DESTDIR)$(PYDIR)/ipcplay/_installed.py
	install -m 644 LICENSE $(DESTDIR)$(DATADIR)/

clean:
	rm -rf $(BUILD)

# Remove the shm segments, POSIX queues and temp dirs of killed ipcplay
# programs (names "<prefix>.<pid>.<n>" whose process is gone; yours only).
# `build/ipcplay-clean --dry-run` lists them first.
clean-ipc: $(CLEAN_BIN)
	$(CLEAN_BIN)

# The fault and load campaigns of issue 12 (minutes to hours): kill storm
# (100 SIGKILLs per cross-process MPMC mechanism, then again with the creator
# killed halfway), soak (4x4 producers/consumers x 10^6 messages, threads and
# processes), descriptor limit 64, 10,000 channels, /dev/shm full (root: a
# private mount namespace), RLIMIT_MSGQUEUE.  STRESS_ARGS goes to ipcstress
# (e.g. --soak-hosts 20000: the brokers carry a few thousand messages a
# second).  tests/test_stress_short runs `ipcstress --short` in make test.
STRESS_ARGS ?=
stress: deps
	@$(MAKE) --no-print-directory $(STRESS_BIN) $(CLEAN_BIN)
	$(STRESS_BIN) $(STRESS_ARGS)

-include $(shell find $(OUT)/obj $(OUT)/obj-testing -name '*.d' 2>/dev/null)
-include $(shell find $(FUZZ_OUT)/obj -name '*.d' 2>/dev/null)
