# lib.sh: what the benchmark drivers (run-bench, run-chat, run-scale) share:
# a scratch directory and the servers they start, cleaned up on any exit;
# waits with deadlines; what /proc says about processes; small statistics.
# Source it after setting `build` (the build directory).
# shellcheck shell=bash
: "${build:?set build before sourcing lib.sh}"
export LC_ALL=C  # "1.5", not "1,5", from $EPOCHREALTIME, printf and awk
me=${0##*/}

dir=$(mktemp -d "/tmp/$me.XXXXXX") || exit 1
started=()  # process group leaders to clean up
cleanup() {
  local p
  for p in "${started[@]}"; do [ -n "$p" ] && kill -KILL -- "-$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }

# Exits unless every named binary is built.
need_built() {
  local bin
  for bin in "$@"; do
    [ -x "$bin" ] || { say "$me: $bin is not built (run make)"; exit 2; }
  done
}

# Polls until FILE holds a line matching REGEX, for at most SECONDS.
wait_for_line() {
  local file=$1 regex=$2 limit=${3:-10} i
  for ((i = 0; i < limit * 100; i++)); do
    grep -qE -- "$regex" "$file" 2>/dev/null && return 0
    sleep 0.01
  done
  say "$me: no line matching '$regex' in $file after ${limit}s:"
  tail -5 "$file" >&2
  return 1
}

# Live children of PID, from /proc (no procps needed).
children_of() {
  local parent=$1 f line fields
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    read -ra fields <<<"${line##*) }"
    [ "${fields[1]}" = "$parent" ] && [ "${fields[0]}" != Z ] && { f=${f#/proc/}; echo "${f%/stat}"; }
  done
}

# User + system clock ticks of the given pids.
cpu_ticks() {
  local total=0 p line fields
  for p in "$@"; do
    read -r line 2>/dev/null <"/proc/$p/stat" || continue
    read -ra fields <<<"${line##*) }"
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

# Private_Clean + Private_Dirty of PID in KiB.
private_kib() {
  awk '/^Private_(Clean|Dirty):/ { kib += $2 } END { print kib + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null
}

# A port nobody listens on or uses, outside the ephemeral range.
free_port() {
  local used port i
  used=$(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 12000))
    grep -qx "$(printf '%04X' "$port")" <<<"$used" || { echo "$port"; return 0; }
  done
  return 1
}

# Starts wsserver in its own process group: start_wsserver NAME PORT ARGS...
# Sets $pid; the log is $dir/NAME.log, the pid file $dir/NAME.pid. With
# listen_prefix=proxy: set, the listener takes PROXY headers.
start_wsserver() {
  local name=$1 port=$2
  shift 2
  setsid "$build/wsserver" -c /dev/null --listen "${listen_prefix:-}127.0.0.1:$port" --pid_file "$dir/$name.pid" "$@" \
    2>"$dir/$name.log" </dev/null &
  pid=$!
  started+=("$pid")
}

# Waits until the log says COUNT workers started.
wait_ready_workers() {
  local log=$1 count=$2 limit=${3:-10} i
  for ((i = 0; i < limit * 100; i++)); do
    [ "$(grep -c 'worker [0-9]* started' "$log")" -ge "$count" ] && return 0
    sleep 0.01
  done
  say "$me: wsserver did not start $count workers:"
  tail -5 "$log" >&2
  return 1
}

# Stops a server and its process group: TERM, then KILL after SECONDS (5).
stop_group() {
  local p=$1 limit=${2:-5} i
  started=("${started[@]/$p/}")
  kill -TERM "$p" 2>/dev/null
  for ((i = 0; i < limit * 100; i++)); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.01
  done
  kill -KILL -- "-$p" 2>/dev/null
  wait "$p" 2>/dev/null
}

port_from_log() { grep -oE 'listening on 127\.0\.0\.1:[0-9]+' "$1" | head -1 | sed 's/.*://'; }

# A number from a one-line JSON object ($1) for key $2, 0 if absent; a
# nested key as "outer.inner" (one level).
json_field() {
  local v text=$1 key=$2
  if [[ $key == *.* ]]; then
    text=$(grep -oE "\"${key%%.*}\":\{[^}]*\}" <<<"$text")
    key=${key#*.}
  fi
  v=$(grep -oE "\"$key\":[-0-9.e+]+" <<<"$text" | head -1 | cut -d: -f2)
  echo "${v:-0}"
}

# The median of the numbers on stdin, one a line; "-" if none.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Polls until process PID has run for more than SECONDS (its start time in
# /proc against the uptime), for at most 5 s.
wait_older_than() {
  local pid=$1 seconds=$2 hz i line fields start up
  hz=$(getconf CLK_TCK)
  for ((i = 0; i < 500; i++)); do
    read -r line 2>/dev/null <"/proc/$pid/stat" || return 1
    read -ra fields <<<"${line##*) }"
    start=${fields[19]}
    read -r up _ </proc/uptime
    awk -v up="$up" -v start="$start" -v hz="$hz" -v s="$seconds" 'BEGIN { exit !(up - start / hz > s) }' && return 0
    sleep 0.01
  done
  return 1
}
