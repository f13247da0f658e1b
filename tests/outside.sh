#!/usr/bin/env bash
# outside.sh (built as $OUT/tests/test_outside) — ipcplay used from outside the tree,
# the way a student or a course would: `make install` into a temporary prefix, then
# only what is installed.
#
#   install      make install PREFIX=tmp honours PREFIX, and DESTDIR stages the same tree;
#                after make test it rebuilds nothing (no object is intermediate)
#   headers      every public header is installed under include/ipcplay/ and compiles on
#                its own as C, and as C++ a program taking every call it declares links
#                (extern "C"), with nothing but `pkg-config --cflags --libs ipcplay`
#   shared       a program outside the tree (written here, in the temp dir) using <ipc.h>
#                and <ipcplay/events/event.h>, built with `pkg-config --cflags --libs
#                ipcplay`, runs and loads the installed libipcplay.so.0
#   static       the same program against libipcplay.a (`pkg-config --static`) runs
#                without any libipcplay.so
#   exports      `nm -D --defined-only` of the installed .so lists exactly the functions
#                the installed headers declare (derived here from the headers with sed,
#                independently of scripts/gen-api), all versioned, no test hook
#   pkgconfig    Requires.private = the brokers built, Libs.private = -lrt -lm -pthread
#   man          every exported call and every inline one has a section-3 page; every
#                page renders without a warning (groff -ww), ipc_open.3 and ipcplay(7)
#                with `man -l`; no page says "undocumented"; ipcplay(7) lists every
#                registered mechanism
#   layout       python/ipcplay's ctypes ipc_config has the installed header's offsets
#   python       the Python package's unittest suite against the installed library
#   bench        the installed ipcbench runs the installed Python baseline, with the row
#                of the installed binding (python:ipcplay.Queue) beside python:mp.Queue
#   viz          the installed ipcviz finds its installed scenario by name
#
# Output mimics cmocka's, so scripts/run-tests adds these to its totals.
set -u
OUT=${OUT:-build}
TREE=$(pwd)
if [ -n "${SANITIZE:-}" ]; then
  echo "[ SKIPPED  ] test_outside: the installed library is checked in the plain build"
  echo "[  PASSED  ] 0 test(s)."
  exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/${IPCPLAY_NAME_PREFIX:-ipcplay}.outside.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
P=$tmp/p
passed=0; failed=0; failed_names=()
run() {  # run NAME COMMAND...: one test case
  local name=$1; shift
  echo "[ RUN      ] $name"
  local t0=$SECONDS
  if "$@" >"$tmp/log" 2>&1; then
    echo "[       OK ] $name ($((SECONDS - t0)) s)"; passed=$((passed + 1))
  else
    sed 's/^/    /' "$tmp/log" | tail -40
    echo "[  FAILED  ] $name"; failed=$((failed + 1)); failed_names+=("$name")
  fi
}
pc() { PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config "$@"; }
# make install runs with this run's variables: `make test BUILD=... BROKERS=...` hands
# them down through MAKEFLAGS, so it installs what was just built and tested.
MAKE=${MAKE:-make}

t_install() {
  # make install after make test builds nothing: a program it relinked would be
  # missing for a moment under the tests that run it meanwhile (test_demos)
  local rebuilt
  rebuilt=$("$MAKE" --no-print-directory -n install PREFIX="$P" | grep -E -- ' -o [^ ]+( |$)| -c [^ ]+\.c( |$)')
  [ -z "$rebuilt" ] || { echo "make install would rebuild:"; echo "$rebuilt" | head -5; return 1; }
  "$MAKE" --no-print-directory -s install PREFIX="$P" >/dev/null || return 1
  for f in lib/libipcplay.a lib/libipcplay.so lib/libipcplay.so.0 lib/pkgconfig/ipcplay.pc \
           include/ipcplay/ipc.h include/ipcplay/events/event.h bin/ipcbench bin/ipcviz bin/ipcplay-clean \
           share/man/man3/ipc_open.3 share/man/man7/ipcplay.7 share/ipcplay/LICENSE \
           lib/python3/dist-packages/ipcplay/__init__.py; do
    [ -e "$P/$f" ] || { echo "missing $P/$f"; return 1; }
  done
  [ "$(readlink "$P/lib/libipcplay.so.0")" != "" ] || { echo "libipcplay.so.0 is not a link"; return 1; }
  ls "$P"/libexec/ipcplay/ | grep -q . || { echo "no demos in libexec/ipcplay"; return 1; }
  ls "$P"/share/ipcplay/scenarios/*.scn >/dev/null || return 1
  # DESTDIR: the same tree under the staging dir, naming the final prefix
  "$MAKE" --no-print-directory -s install PREFIX=/opt/ipcplay DESTDIR="$tmp/stage" >/dev/null || return 1
  [ -e "$tmp/stage/opt/ipcplay/lib/libipcplay.so.0" ] || { echo "DESTDIR not honoured"; return 1; }
  grep -qx 'prefix=/opt/ipcplay' "$tmp/stage/opt/ipcplay/lib/pkgconfig/ipcplay.pc" || { echo "pc prefix"; return 1; }
  grep -q 'LIBDIR = "/opt/ipcplay/lib"' "$tmp/stage/opt/ipcplay/lib/python3/dist-packages/ipcplay/_installed.py" \
    || { echo "python _installed.py"; return 1; }
}

t_headers() {
  local n=0 h
  : > "$tmp/all.cc"
  for h in $(cd mechanisms/include/ipcplay && find . -name '*.h' | sed 's|^\./||' | sort); do
    if [ ! -f "$P/include/ipcplay/$h" ]; then
      # only the header of a broker left out of this build (BROKERS=) may be missing
      case $h in brokers/ipc_*.h)
        b=${h#brokers/ipc_}; b=${b%.h}
        if ! nm -D --defined-only "$P/lib/libipcplay.so" | grep -q " ipc_${b}_"; then
          echo "not installed: $h (broker $b not built)"; continue
        fi ;;
      esac
      echo "not installed: $h"; return 1
    fi
    cmp -s "mechanisms/include/ipcplay/$h" "$P/include/ipcplay/$h" || { echo "differs: $h"; return 1; }
    printf '#include <ipcplay/%s>\n' "$h" > "$tmp/h.c"
    cc -std=c11 -Wall -Wextra -Werror $(pc --cflags ipcplay) -fsyntax-only "$tmp/h.c" || { echo "C: $h"; return 1; }
    printf '#include <ipcplay/%s>\n' "$h" >> "$tmp/all.cc"
    n=$((n + 1))
  done
  # C++: one program taking every call of every header links (a header without
  # extern "C" would ask for mangled names the library does not have)
  { printf 'void *calls[] = {\n'
    declared | sed 's/.*/    (void *)\&&,/'
    printf '    0 };\nint main(void) { return calls[0] == 0 ? 1 : 0; }\n'; } >> "$tmp/all.cc"
  c++ -Wall -Wextra -Werror "$tmp/all.cc" $(pc --cflags --libs ipcplay) -o "$tmp/all.cxx" || { echo "C++"; return 1; }
  echo "$n headers"
}

write_example() {
  cat > "$tmp/ex.c" <<'EOF'
/* ex.c — a program outside the ipcplay tree: a channel and an event across fork(). */
#include <ipc.h>
#include <ipcplay/events/event.h>
#include <ipcplay/queues/thread_queue.h>

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    ipc_channel *ch;
    ipc_event_obj *ev;
    if (ipc_open("procq", &(ipc_config){ .capacity = 4 }, &ch) != IPC_OK) {
        fprintf(stderr, "ipc_open: %s\n", ipc_last_error());
        return 1;
    }
    if (ipc_event_open(&ev) != IPC_OK) { fprintf(stderr, "ipc_event_open: %s\n", ipc_last_error()); return 1; }
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
        if (ipc_event_wait(ev, 5000) != IPC_OK) _exit(2);
        int rc = ipc_send(ch, "hello from outside", 18, 0, 5000);
        _exit(rc == IPC_OK ? 0 : 3);
    }
    if (ipc_event_set(ev) != IPC_OK) return 1;
    char buf[64];
    size_t len = 0;
    int rc = ipc_recv(ch, buf, sizeof buf, &len, NULL, 5000);
    int status = 0;
    waitpid(pid, &status, 0);
    if (rc != IPC_OK || len != 18 || memcmp(buf, "hello from outside", 18) != 0) {
        fprintf(stderr, "recv: %s (%s)\n", ipc_strerror(rc), ipc_last_error());
        return 1;
    }
    /* thread_queue.h through the same include path, on a thread queue */
    ipc_channel *q;
    if (ipc_open("queue", NULL, &q) != IPC_OK || ipc_send(q, "x", 1, 0, 0) != IPC_OK || ipc_queue_qsize(q) != 1)
        return 1;
    ipc_free(q);
    ipc_event_free(ev);
    ipc_free(ch);
    printf("%.*s; child status %d\n", (int)len, buf, WEXITSTATUS(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
EOF
}

t_shared() {
  write_example
  (cd "$tmp" && cc -std=c11 -Wall -Wextra -Werror ex.c $(pc --cflags --libs ipcplay) -o ex_shared) || return 1
  "$tmp/ex_shared" | grep -q 'hello from outside' || return 1
  # it runs on the installed library (rpath from ipcplay.pc), not on the tree's
  ldd "$tmp/ex_shared" | grep -q "libipcplay.so.0 => $P/lib/libipcplay.so.0" || { ldd "$tmp/ex_shared"; return 1; }
}

t_static() {
  write_example
  # Both libraries sit in one directory: -l:libipcplay.a picks the archive.  Debian 12's
  # libzmq.pc lists a bare "libprotokit.a" (no directory) in its Libs.private, which no
  # linker finds from another directory: drop bare archive names (libzmq itself is
  # still linked, shared).
  local flags
  flags=$(pc --static --cflags --libs ipcplay | tr ' ' '\n' | grep -v '^lib[^/]*\.a$' \
          | sed 's/^-lipcplay$/-l:libipcplay.a/' | tr '\n' ' ')
  echo "cc ex.c $flags"
  (cd "$tmp" && cc -std=c11 -Wall -Wextra -Werror ex.c $flags -o ex_static) || return 1
  if ldd "$tmp/ex_static" | grep -q libipcplay; then echo "linked against the .so"; return 1; fi
  "$tmp/ex_static" | grep -q 'hello from outside'
}

# Functions the headers declare: prototypes at the start of a line, not static
# inline, not a typedef; joined across lines first (one declaration may wrap).
declared() {  # [HEADER...] (default: every installed header)
  if [ $# -eq 0 ]; then set -- "$P"/include/ipcplay/*.h "$P"/include/ipcplay/*/*.h; fi
  cat "$@" \
    | sed -e 's|/\*.*\*/||g' \
    | awk '/\/\*/{c=1} !c{print} /\*\//{c=0}' \
    | grep -E '^[a-z_][a-z0-9_ *]*[ *]ipc_[a-z0-9_]+ *\(' \
    | grep -vE '^(static|typedef)' \
    | sed -E 's/.*[ *](ipc_[a-z0-9_]+) *\(.*/\1/' | sort -u
}

t_exports() {
  declared > "$tmp/declared"
  nm -D --defined-only "$P/lib/libipcplay.so" | awk '$2 != "A" {print $3}' > "$tmp/nm.raw"
  grep -v '@@IPCPLAY_0$' "$tmp/nm.raw" && { echo "^ not in version IPCPLAY_0"; return 1; }
  sed 's/@@IPCPLAY_0$//' "$tmp/nm.raw" | sort -u > "$tmp/exported"
  echo "$(wc -l < "$tmp/declared") declared, $(wc -l < "$tmp/exported") exported"
  [ "$(wc -l < "$tmp/declared")" -gt 50 ] || { echo "too few declarations found: the parser is broken"; return 1; }
  diff -u "$tmp/declared" "$tmp/exported" || { echo "(- declared only, + exported only)"; return 1; }
  # Test hooks must not ship (issue 11): they are built only into the tests' copy of the
  # library (Makefile: TEST_LIB, -DIPC_TESTING), so neither the .so's exports nor any
  # symbol of the installed archive names one.
  if grep -Ei 'hook|_test|fault|tsan' "$tmp/exported"; then
    echo "^ a test hook is exported"; return 1
  fi
  if nm "$P/lib/libipcplay.a" 2>/dev/null | grep -Ei 'lock_hook|__tsan|_testing'; then
    echo "^ a test hook is in the installed libipcplay.a"; return 1
  fi
}

t_pkgconfig() {
  local req
  req=$(pc --print-requires-private ipcplay | awk '{print $1}' | sort | tr '\n' ' ')
  echo "Requires.private: $req"
  local want
  want=$(sed -n 's/^Requires.private: *//p' "$P/lib/pkgconfig/ipcplay.pc" | tr ' ' '\n' | grep . | sort | tr '\n' ' ')
  [ "$req" = "$want" ] || return 1
  # each package in it is one the .so was linked with (its own library, the first -l)
  local lib l
  for lib in $req; do
    l=$(pc --libs-only-l "$lib" | awk '{print $1}')
    readelf -d "$P/lib/libipcplay.so" | grep -q "lib${l#-l}\.so" || { echo "$lib ($l) not needed by the .so"; return 1; }
  done
  pc --static --libs ipcplay | grep -q -- '-lrt' && pc --static --libs ipcplay | grep -q -- '-lm' \
    && pc --static --libs ipcplay | grep -q -- '-pthread'
}

t_man() {
  local m n=0 names
  export MANWIDTH=80
  names=$( (declared; cat "$P"/include/ipcplay/*.h "$P"/include/ipcplay/*/*.h \
            | sed -nE 's/^static inline [^(]*[ *](ipc_[a-z0-9_]+) *\(.*/\1/p') | sort -u)
  for m in $names; do
    [ -f "$P/share/man/man3/$m.3" ] || { echo "no page for $m"; return 1; }
    n=$((n + 1))
  done
  if grep -l 'undocumented' "$P"/share/man/man3/*.3; then echo "^ the header has no comment for these"; return 1; fi
  # every page through one groff run with warnings on (its messages name the file;
  # man(1) costs ~1 s a page on a loaded machine: it renders the two pages below)
  groff -man -Tutf8 -ww -z "$P"/share/man/man3/*.3 "$P"/share/man/man7/ipcplay.7 2>"$tmp/man.err" \
    && [ ! -s "$tmp/man.err" ] || { cat "$tmp/man.err"; return 1; }
  man --warnings -l "$P/share/man/man3/ipc_open.3" 2>"$tmp/man.err" >/dev/null && [ ! -s "$tmp/man.err" ] \
    || { cat "$tmp/man.err"; return 1; }
  man -l "$P/share/man/man3/ipc_open.3" | grep -q 'IPC_ENOMECH' || return 1
  man -l "$P/share/man/man7/ipcplay.7" > "$tmp/man7"
  for mech in $(PYTHONPATH=$P/lib/python3/dist-packages python3 -c 'import ipcplay; print(" ".join(m.name for m in ipcplay.mechanisms()))'); do
    grep -q "^ *$mech (" "$tmp/man7" || { echo "ipcplay(7) lacks $mech"; return 1; }
  done
  echo "$n calls, each with its page"
}

t_layout() {
  cat > "$tmp/layout.c" <<'EOF'
#include <ipc.h>
#include <stddef.h>
#include <stdio.h>
int main(void)
{
    printf("capacity %zu max_msg %zu order %zu name %zu endpoint %zu flags %zu\n",
           offsetof(ipc_config, capacity), offsetof(ipc_config, max_msg), offsetof(ipc_config, order),
           offsetof(ipc_config, name), offsetof(ipc_config, endpoint), offsetof(ipc_config, flags));
    printf("sizeof %zu\n", sizeof(ipc_config));
    printf("mech %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu\n", offsetof(ipc_mechanism, name),
           offsetof(ipc_mechanism, family), offsetof(ipc_mechanism, summary), offsetof(ipc_mechanism, caps),
           offsetof(ipc_mechanism, max_msg_limit), offsetof(ipc_mechanism, default_max_msg),
           offsetof(ipc_mechanism, default_capacity), offsetof(ipc_mechanism, wait_strategy),
           offsetof(ipc_mechanism, ops), offsetof(ipc_mechanism, waits), offsetof(ipc_mechanism, wait_default),
           offsetof(ipc_mechanism, family_id), offsetof(ipc_mechanism, carrier), offsetof(ipc_mechanism, variant));
    return 0;
}
EOF
  cc $(pc --cflags ipcplay) "$tmp/layout.c" -o "$tmp/layout" && "$tmp/layout" > "$tmp/layout.c.txt" || return 1
  PYTHONPATH=$P/lib/python3/dist-packages python3 - "$tmp/layout.c.txt" <<'EOF' || return 1
import sys
from ipcplay import _lib
c = open(sys.argv[1]).read().split("\n")
cfg = dict(zip(c[0].split()[0::2], map(int, c[0].split()[1::2])))
for f, off in cfg.items():
    got = getattr(_lib.Config, f).offset
    assert got == off, f"ipc_config.{f}: ctypes offset {got}, C {off}"
csize = int(c[1].split()[1])
assert _lib.Config._reserve.offset <= csize <= _lib.Config._reserve.offset + 64, "ipc_config outgrew the reserve"
mech = list(map(int, c[2].split()[1:]))
names = [f[0] for f in _lib.Mechanism._fields_]
assert mech == [getattr(_lib.Mechanism, n).offset for n in names], (mech, names)
print("ipc_config and ipc_mechanism: offsets agree")
EOF
}

t_python() {
  # the installed package must load the installed library, not the tree's
  (cd "$tmp" && env -u IPCPLAY_LIB PYTHONPATH="$P/lib/python3/dist-packages" python3 -c \
     "import ipcplay; q = ipcplay.Queue('procq'); q.put(b'x'); print(q.get()); print(ipcplay.library_path)") \
     > "$tmp/py.out" || return 1
  cat "$tmp/py.out"
  [ "$(head -1 "$tmp/py.out")" = "b'x'" ] || return 1
  grep -qx "$P/lib/libipcplay.so.0" "$tmp/py.out" || { echo "loaded another library"; return 1; }
  (cd "$tmp" && env -u IPCPLAY_LIB PYTHONPATH="$P/lib/python3/dist-packages" IPCPLAY_EXPECT_LIBDIR="$P/lib" \
     timeout 120 python3 -m unittest discover -s "$TREE/python/tests" -t "$TREE/python/tests" 2>&1)
}

t_bench() {
  # the installed ipcbench finds its installed Python baseline, which finds the
  # installed binding: the ipcplay row beside multiprocessing's
  (cd "$tmp" && env -u IPCBENCH_PYTHON_BASELINE timeout 120 "$P/bin/ipcbench" --only pair,latency,python --mech pipe \
     --sizes 100 --pin same --min-time 0.01 --benchmark_filter='^pair/pipe|latency/python:(mp|ipcplay)\.Queue' \
     --json "$tmp/bench.json") \
     >/dev/null 2>"$tmp/bench.err" || { cat "$tmp/bench.err"; return 1; }
  grep -q '"latency/python:ipcplay.Queue/procs/same/100"' "$tmp/bench.json" \
    && grep -q '"latency/python:mp.Queue/procs/same/100"' "$tmp/bench.json" || { tail "$tmp/bench.err"; return 1; }
}

t_viz() {
  (cd "$tmp" && SDL_VIDEODRIVER=dummy "$P/bin/ipcviz" --scenario unlocked-race --headless --frames 2) \
    | grep -q 'frames of unlocked'
}

run install t_install
if [ $failed -eq 0 ]; then
  run headers t_headers
  run shared t_shared
  run static t_static
  run exports t_exports
  run pkgconfig t_pkgconfig
  run man t_man
  run layout t_layout
  run python t_python
  run bench t_bench
  run viz t_viz
fi
echo "[==========] test_outside: $((passed + failed)) test(s) run."
echo "[  PASSED  ] $passed test(s)."
if [ $failed -gt 0 ]; then
  echo "[  FAILED  ] $failed test(s), listed below:"
  for n in "${failed_names[@]}"; do echo "[  FAILED  ] $n"; done
  exit 1
fi
exit 0
