# wsserver: a pre-forking socket server daemon.
#   make          build build/wsserver
#   make run      run it in the foreground on port 9000 (files under build/run/)
#   make test     build and run every test; ends with "tests: N passed, M failed"
#   make bench    wsserver against a reference server, same scenarios (< 5 min)
#   make bench-chat, make bench-scale   the chat fan-out; a pool of 1000 workers
#   make bench-upgrade   a binary upgrade under load: errors (goal 0), timings
#   make asan, make fuzz, make valgrind, make soak   hardening (see the end)
#   make install  PREFIX (/usr/local) and DESTDIR honoured
#   make fresh-root   make run and make test in a fresh Debian root (root only)
#   make clean

# Both cores by default: a fresh clone compiles in half the time. A
# recursive make shares its parent's job slots instead.
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR = $(PREFIX)/sbin
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
SYSCONFDIR = $(PREFIX)/etc
DATADIR = $(PREFIX)/share/wsserver
UNITDIR = $(PREFIX)/lib/systemd/system
LOGROTATEDIR ?= /etc/logrotate.d
BUILD ?= build
CXX ?= g++
CXXFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra
ALL_CXXFLAGS = -std=c++20 $(WARNINGS) -Iinclude -MMD -MP \
  -DWSSERVER_CONFIG_PATH='"$(PREFIX)/etc/wsserver.conf"' $(CXXFLAGS)

LIB_SRC = $(filter-out src/main.cpp,$(wildcard src/*.cpp))
LIB_OBJ = $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
UNIT_OBJ = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard test/unit/*.cpp))
INTEGRATION_OBJ = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard test/integration/*.cpp))
WSBENCH_OBJ = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard src/wsbench/*.cpp))
# Libraries some tests preload into the server, each from the
# test/support/*.cpp of its name with _ for -; not linked into the tests.
PRELOADS = fail-epoll.so slow-clock.so port-taken-once.so
SUPPORT_OBJ = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(filter-out $(patsubst %.so,test/support/%.cpp,$(subst -,_,$(PRELOADS))),\
  $(wildcard test/support/*.cpp)))

# Debian packages, installed by test/need-packages when missing: the build
# needs CLI11 and Catch2 headers; the tests also use these tools (add new
# ones to TEST_PACKAGES).
BUILD_PACKAGES = libcli11-dev catch2
# systemd: systemd-analyze verifies the units (6 MiB more in a fresh root);
# redis-server: the chat bus; chromium and python3-websockets: WebSocket
# peers; haproxy and openssl: wsserver behind a real HAProxy, with TLS;
# prometheus: promtool checks the metrics; python3: its JSON parser.
TEST_PACKAGES = mandoc netcat-openbsd man-db logrotate systemd redis-server chromium python3-websockets \
  haproxy openssl prometheus python3

.PHONY: all run test bench bench-chat bench-scale bench-upgrade clean install uninstall fresh-root FORCE
all: $(BUILD)/wsserver $(BUILD)/wsbench

# Every object waits for this one rule, so a parallel build installs once.
# Targets that need more (test, asan, fuzz, valgrind) install everything they
# need in one call in their recipe first, then build in a recursive make,
# where this finds nothing missing.
$(BUILD)/.deps-ok: Makefile test/need-packages
	@test/need-packages $(BUILD_PACKAGES)
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/%.o: %.cpp | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) -c $< -o $@

# The default config path is compiled in: rebuild when PREFIX changes.
$(BUILD)/prefix: FORCE
	@mkdir -p $(BUILD); echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
$(BUILD)/obj/src/cli.o: $(BUILD)/prefix

# The chat page is assembled into the binary (.incbin), unseen by -MMD.
$(BUILD)/obj/src/ws_page.o: etc/chat.html

# -z now resolves every symbol in the master, before fork, so workers do not
# each dirty their own copy of the lazy-binding tables.
$(BUILD)/wsserver: $(LIB_OBJ) $(BUILD)/obj/src/main.o
	$(CXX) $(ALL_CXXFLAGS) -Wl,-z,now $^ -o $@

# The load generator (src/wsbench/) and the reference server make bench
# measures wsserver against (test/bench/).
# --websocket computes the handshake's accept with the server's SHA-1 and
# base64, each checked against its published test vectors.
# wsbench speaks WebSocket with the server's own RFC 6455 code.
WSBENCH_LIB_OBJ = $(patsubst %,$(BUILD)/obj/src/%.o,sha1 base64 ws_frame ws_handshake utf8 http)
$(BUILD)/wsbench: $(WSBENCH_OBJ) $(WSBENCH_LIB_OBJ)
	$(CXX) $(ALL_CXXFLAGS) -pthread $^ -o $@

$(BUILD)/reference-server: $(BUILD)/obj/test/bench/reference_server.o $(BUILD)/obj/src/strip.o
	$(CXX) $(ALL_CXXFLAGS) $^ -o $@

# What a process per client costs at the least, for bench-scale's burst.
$(BUILD)/fork-floor: $(BUILD)/obj/test/bench/fork_floor.o $(BUILD)/obj/src/strip.o
	$(CXX) $(ALL_CXXFLAGS) $^ -o $@

# The strip loop alone, without sockets.
$(BUILD)/strip-speed: $(BUILD)/obj/test/bench/strip_speed.o $(LIB_OBJ)
	$(CXX) $(ALL_CXXFLAGS) $^ -o $@

# The unit tests also check wsbench's chat bookkeeping and its WebSocket
# frames, which need no server.
WSBENCH_CHAT_CHECK_OBJ = $(patsubst %,$(BUILD)/obj/src/wsbench/%.o,chat_text chat_ledger chat_order histogram ws_wire)
$(BUILD)/unit-tests: $(UNIT_OBJ) $(LIB_OBJ) $(WSBENCH_CHAT_CHECK_OBJ) $(BUILD)/obj/test/support/catch_main.o $(BUILD)/obj/test/support/tempdir.o
	$(CXX) $(ALL_CXXFLAGS) $^ -o $@

$(BUILD)/integration-tests: $(INTEGRATION_OBJ) $(SUPPORT_OBJ) $(LIB_OBJ)
	$(CXX) $(ALL_CXXFLAGS) $^ -o $@

# Preloaded by one test to make worker set-up fail for real.
$(BUILD)/fail-epoll.so: test/support/fail_epoll.cpp
	$(CXX) -std=c++20 $(WARNINGS) -O2 -shared -fPIC $< -o $@

# Preloaded by a test: the port a bare `listen 0` picked is taken for IPv4 once.
$(BUILD)/port-taken-once.so: test/support/port_taken_once.cpp
	$(CXX) -std=c++20 $(WARNINGS) -O2 -shared -fPIC $< -o $@

# Preloaded by a test that must hold the server inside a brief window of time.
$(BUILD)/slow-clock.so: test/support/slow_clock.cpp
	$(CXX) -std=c++20 $(WARNINGS) -O2 -shared -fPIC $< -o $@

# RUN_LISTEN="9000 ws:9001" adds the chat page and WebSocket on port 9001.
RUN_LISTEN ?= 9000
run: $(BUILD)/wsserver
	@mkdir -p $(BUILD)/run
	$(BUILD)/wsserver -c etc/wsserver.conf --listen $(RUN_LISTEN) --log_file stderr \
	  --pid_file $(BUILD)/run/wsserver.pid --control_socket $(BUILD)/run/wsserver.sock

TEST_NAMES = wsserver wsbench unit-tests integration-tests $(PRELOADS)
TEST_BINARIES = $(addprefix $(BUILD)/,$(TEST_NAMES))
test:
	@test/need-packages $(BUILD_PACKAGES) $(TEST_PACKAGES)
	@$(MAKE) --no-print-directory $(TEST_BINARIES)
	@test/run-tests $(BUILD)/unit-tests $(BUILD)/integration-tests

# The README's two commands in a fresh Debian root that has none of the
# packages (test/fresh-root/run; root only; 11 to 22 minutes, plus about 11
# for debootstrap the first time).
fresh-root:
	@test/fresh-root/run

bench: $(BUILD)/wsserver $(BUILD)/wsbench $(BUILD)/reference-server $(BUILD)/strip-speed
	@test/bench/run-bench $(BUILD)

# Benchmarks of their own (the reference server has no chat and no pool):
# the chat fan-out, 30 clients x 1000 messages (about 35 s), and the pool
# growing from 5 to 1000 workers under 1000 held clients, with its memory.
bench-chat: $(BUILD)/wsserver $(BUILD)/wsbench
	@test/bench/run-chat $(BUILD)

bench-scale: $(BUILD)/wsserver $(BUILD)/wsbench $(BUILD)/fork-floor
	@test/bench/run-scale $(BUILD)

# A binary upgrade while wsbench connrate and pingpong run (issue 15).
bench-upgrade: $(BUILD)/wsserver $(BUILD)/wsbench
	@test/bench/run-upgrade $(BUILD)

# Files that name /usr/local get the PREFIX they are installed under.
install: $(BUILD)/wsserver $(BUILD)/wsbench
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(LOGROTATEDIR) \
	  $(DESTDIR)$(DATADIR)
	install -m 755 $(BUILD)/wsserver $(DESTDIR)$(SBINDIR)/wsserver
	install -m 755 $(BUILD)/wsbench $(DESTDIR)$(BINDIR)/wsbench
	install -m 644 man/wsbench.1 $(DESTDIR)$(MANDIR)/man1/wsbench.1
	install -m 644 etc/chat.html $(DESTDIR)$(DATADIR)/chat.html
	sed 's|/usr/local|$(PREFIX)|g' man/wsserver.8 > $(DESTDIR)$(MANDIR)/man8/wsserver.8
	sed 's|/usr/local|$(PREFIX)|g' man/wsserver.conf.5 > $(DESTDIR)$(MANDIR)/man5/wsserver.conf.5
	sed 's|/usr/local|$(PREFIX)|g' etc/wsserver.service > $(DESTDIR)$(UNITDIR)/wsserver.service
	install -m 644 etc/wsserver.socket $(DESTDIR)$(UNITDIR)/wsserver.socket
	sed 's|/usr/local|$(PREFIX)|g' etc/logrotate.d/wsserver > $(DESTDIR)$(LOGROTATEDIR)/wsserver
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/wsserver.conf ]; then \
	  echo "keeping $(DESTDIR)$(SYSCONFDIR)/wsserver.conf (the sample is etc/wsserver.conf)"; \
	else install -m 644 etc/wsserver.conf $(DESTDIR)$(SYSCONFDIR)/wsserver.conf; fi

# The config is removed only if it is still the untouched sample.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/wsserver $(DESTDIR)$(BINDIR)/wsbench $(DESTDIR)$(MANDIR)/man1/wsbench.1 \
	  $(DESTDIR)$(MANDIR)/man8/wsserver.8 \
	  $(DESTDIR)$(MANDIR)/man5/wsserver.conf.5 $(DESTDIR)$(UNITDIR)/wsserver.service $(DESTDIR)$(UNITDIR)/wsserver.socket \
	  $(DESTDIR)$(LOGROTATEDIR)/wsserver $(DESTDIR)$(DATADIR)/chat.html
	rmdir $(DESTDIR)$(DATADIR) 2>/dev/null || true
	@if cmp -s etc/wsserver.conf $(DESTDIR)$(SYSCONFDIR)/wsserver.conf; then rm -f $(DESTDIR)$(SYSCONFDIR)/wsserver.conf; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/wsserver.conf ]; then echo "keeping the edited $(DESTDIR)$(SYSCONFDIR)/wsserver.conf"; fi

clean:
	rm -rf $(BUILD)

# Hardening ------------------------------------------------------------------
#   make valgrind   integration tests with every wsserver process under
#                   valgrind memcheck; build/vg-check then judges each log
#   make soak       SOAK_SECONDS (60) of mixed load and chaos (test/soak/)
VALGRIND_PACKAGES = valgrind
VG_CHECK_OBJ = $(BUILD)/obj/test/valgrind/vg_check.o $(BUILD)/obj/test/valgrind/vg_log.o
.PHONY: valgrind

$(BUILD)/vg-check: $(VG_CHECK_OBJ)
	$(CXX) $(ALL_CXXFLAGS) $^ -o $@

# The unit tests also check how vg-check reads a log.
$(BUILD)/unit-tests: $(BUILD)/obj/test/valgrind/vg_log.o

valgrind:
	@test/need-packages $(BUILD_PACKAGES) $(TEST_PACKAGES) $(VALGRIND_PACKAGES)
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/,wsserver wsbench integration-tests vg-check)
	@test/valgrind/run-valgrind $(BUILD)

SOAK_SECONDS ?= 60
SOAK_OBJ = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard test/soak/*.cpp)) \
  $(patsubst %,$(BUILD)/obj/test/support/%.o,client proc proc_fds fd_audit status_json)
.PHONY: soak

$(BUILD)/wsserver-soak: $(SOAK_OBJ) $(LIB_OBJ)
	$(CXX) $(ALL_CXXFLAGS) -pthread $^ -o $@

soak: $(BUILD)/wsserver $(BUILD)/wsserver-soak
	$(BUILD)/wsserver-soak --wsserver $(BUILD)/wsserver --dir $(BUILD)/soak --seconds $(SOAK_SECONDS)

#   make asan     every test against an AddressSanitizer + UBSan build (build/asan/)
#   make fuzz     each libFuzzer target for FUZZ_SECONDS (build/fuzz/)
# Both build with clang: libFuzzer comes with it, and clang links the ASan
# runtime into the executable, so the tests that preload fail-epoll.so and
# port-taken-once.so still work (g++'s shared libasan refuses to start unless
# it comes first in the library list).
SANITIZER_PACKAGES = clang libclang-rt-dev
SANITIZER_CXX = clang++
ASAN_BUILD = build/asan
# _GLIBCXX_ASSERTIONS checks what ASan cannot see: an index past a string's
# size but inside its capacity.
ASAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
  -D_GLIBCXX_ASSERTIONS

# A sanitized build throws its objects away when its flags change, so a flag
# change is never half applied.
define flags_stamp
	@mkdir -p $(@D); echo '$(1)' | cmp -s - $@ || { rm -rf $(@D)/obj; echo '$(1)' > $@; }
endef

.PHONY: asan
$(ASAN_BUILD)/flags: FORCE
	$(call flags_stamp,$(SANITIZER_CXX) $(ASAN_FLAGS))

asan: $(ASAN_BUILD)/flags
	@test/need-packages $(BUILD_PACKAGES) $(TEST_PACKAGES) $(SANITIZER_PACKAGES)
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CXX=$(SANITIZER_CXX) CXXFLAGS='$(ASAN_FLAGS)' \
	  $(addprefix $(ASAN_BUILD)/,$(TEST_NAMES))
	@test/asan/run $(ASAN_BUILD)

# libFuzzer targets, test/fuzz/*_fuzz.cpp, each run FUZZ_SECONDS by test/fuzz/run.
FUZZ_BUILD = build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = $(patsubst test/fuzz/%_fuzz.cpp,%,$(wildcard test/fuzz/*_fuzz.cpp))
FUZZ_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
  -D_GLIBCXX_ASSERTIONS

.PHONY: fuzz
$(FUZZ_BUILD)/flags: FORCE
	$(call flags_stamp,$(SANITIZER_CXX) $(FUZZ_FLAGS))

# Kept, though only a chain of pattern rules builds them, so that make does
# not delete and rebuild them every time.
.SECONDARY: $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard test/fuzz/*_fuzz.cpp))
$(BUILD)/fuzz-%: $(BUILD)/obj/test/fuzz/%_fuzz.o $(LIB_OBJ)
	$(CXX) $(ALL_CXXFLAGS) -fsanitize=fuzzer $^ -o $@

fuzz: $(FUZZ_BUILD)/flags
	@test/need-packages $(BUILD_PACKAGES) $(SANITIZER_PACKAGES)
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CXX=$(SANITIZER_CXX) CXXFLAGS='$(FUZZ_FLAGS)' \
	  $(addprefix $(FUZZ_BUILD)/fuzz-,$(FUZZ_TARGETS))
	@test/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
