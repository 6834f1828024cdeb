# wsserver: a pre-forking socket server daemon.
#   make          build build/wsserver
#   make run      run it in the foreground on port 9000 (files under build/run/)
#   make test     build and run every test; ends with "tests: N passed, M failed"
#   make install  PREFIX (/usr/local) and DESTDIR honoured
#   make clean

PREFIX ?= /usr/local
BUILD ?= build
CXX = g++
CXXFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra
ALL_CXXFLAGS = -std=c++20 $(WARNINGS) -Iinclude -MMD -MP \
  -DWSSERVER_CONFIG_PATH='"$(PREFIX)/etc/wsserver.conf"' $(CXXFLAGS)

LIB_SRC = $(filter-out src/main.cpp,$(wildcard src/*.cpp))
LIB_OBJ = $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
UNIT_OBJ = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard test/unit/*.cpp))
INTEGRATION_OBJ = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard test/integration/*.cpp))
SUPPORT_OBJ = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard test/support/*.cpp))

# Packages: the build needs CLI11 and Catch2 headers; tests also use these tools.
BUILD_PACKAGES = libcli11-dev catch2
TEST_PACKAGES = mandoc netcat-openbsd

.PHONY: all run test clean install uninstall deps test-deps
all: $(BUILD)/wsserver

# Installs missing Debian packages: apt-get as root, sudo otherwise, or says
# exactly what to run.
define need_packages
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then apt="sudo"; \
	  else echo "missing packages:$$missing; run: sudo apt-get install -y$$missing" >&2; exit 1; fi; \
	  echo "installing:$$missing"; \
	  $$apt env DEBIAN_FRONTEND=noninteractive apt-get install -y -q$$missing >/dev/null || \
	  { $$apt apt-get update -q >/dev/null && $$apt env DEBIAN_FRONTEND=noninteractive apt-get install -y -q$$missing >/dev/null; } || \
	  { echo "could not install:$$missing; run: sudo apt-get install -y$$missing" >&2; exit 1; }; \
	fi
endef

$(BUILD)/.deps-ok:
	$(call need_packages,$(BUILD_PACKAGES))
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/.test-deps-ok:
	$(call need_packages,$(TEST_PACKAGES))
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/%.o: %.cpp | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) -c $< -o $@

$(BUILD)/wsserver: $(LIB_OBJ) $(BUILD)/obj/src/main.o
	$(CXX) $(ALL_CXXFLAGS) $^ -o $@

$(BUILD)/unit-tests: $(UNIT_OBJ) $(LIB_OBJ) $(BUILD)/obj/test/support/catch_main.o $(BUILD)/obj/test/support/tempdir.o
	$(CXX) $(ALL_CXXFLAGS) $^ -o $@

$(BUILD)/integration-tests: $(INTEGRATION_OBJ) $(SUPPORT_OBJ) $(LIB_OBJ)
	$(CXX) $(ALL_CXXFLAGS) $^ -o $@

run: $(BUILD)/wsserver
	@mkdir -p $(BUILD)/run
	$(BUILD)/wsserver -c etc/wsserver.conf --listen 9000 --log_file stderr \
	  --pid_file $(BUILD)/run/wsserver.pid --control_socket $(BUILD)/run/wsserver.sock

test: $(BUILD)/wsserver $(BUILD)/unit-tests $(BUILD)/integration-tests $(BUILD)/.test-deps-ok
	@test/run-tests $(BUILD)/unit-tests $(BUILD)/integration-tests

clean:
	rm -rf $(BUILD)

# ---- wsbench and make bench (branch bench): kept together for merging ----
#   make bench    build wsserver, wsbench and the reference server, then compare
#                 them (test/bench/run-bench; under 5 minutes)
WSBENCH_OBJ = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard src/wsbench/*.cpp))

.PHONY: bench
all: $(BUILD)/wsbench

$(BUILD)/wsbench: $(WSBENCH_OBJ)
	$(CXX) $(ALL_CXXFLAGS) -pthread $^ -o $@

$(BUILD)/reference-server: $(BUILD)/obj/test/bench/reference_server.o
	$(CXX) $(ALL_CXXFLAGS) $^ -o $@

# The integration tests drive build/wsbench too (test/run-tests exports WSBENCH).
test: $(BUILD)/wsbench

bench: $(BUILD)/wsserver $(BUILD)/wsbench $(BUILD)/reference-server
	@test/bench/run-bench $(BUILD)
# ---- end of wsbench and make bench ----

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
