#!/bin/bash
# `make run` on a fresh clone: seconds from the command to the first 200 on /readyz, and the
# virtualenv's size and package count, for each git ref given (the first is usually the
# baseline), one after the other on the same machine and the same package cache.
#   bench/fresh_make_run.sh 31023d9 HEAD
# Clones into a temporary directory (removed afterwards) and stops only the `make run` it started.
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
port=${PORT:-8391}
for ref in "$@"; do
  dir=$(mktemp -d /tmp/lf-fresh-XXXXXX)
  git clone -q "$repo" "$dir/lf" && git -C "$dir/lf" checkout -q "$(git -C "$repo" rev-parse "$ref")"
  cd "$dir/lf"
  start=$(date +%s.%N)
  setsid make run PORT="$port" > "$dir/run.log" 2>&1 &
  pid=$!
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    sleep 0.25
    kill -0 "$pid" 2>/dev/null || { echo "$ref: make run exited, see $dir/run.log"; exit 1; }
  done
  end=$(date +%s.%N)
  echo "ref=$ref time_to_serving_s=$(echo "$end - $start" | bc) venv_MB=$(du -sm .venv | cut -f1)" \
       "packages=$(.venv/bin/python -m pip list 2>/dev/null | tail -n +3 | wc -l) load=$(cut -d' ' -f1-3 /proc/loadavg)"
  kill -- -"$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  cd / && rm -rf "$dir"
done
