#!/usr/bin/env bash
# Debian influxdb 1.6.7 on 127.0.0.1:8086: the real InfluxQL engine of the read-path and dashboard tests
# (test-lab.md §5c). It has no /api/v2 (influxdb-client's writes 404): tests load data through its 1.x
# /write API in the same line protocol. Meta, data and WAL live in RUN_DIR; reporting is off.
# Usage: 50-influxdb.sh start|stop RUN_DIR   (the process is stopped by PID by tests/lab/run)
set -euo pipefail
cmd=$1; run=$2

case "$cmd" in
start)
  command -v influxd >/dev/null || { echo "lab: influxd not installed (package influxdb, .ci/apt-packages.txt)" >&2; exit 1; }
  if curl -s -o /dev/null --max-time 1 http://127.0.0.1:8086/ping; then
    echo "lab: 127.0.0.1:8086 is already taken (an influxd not started by this lab?)" >&2; exit 1
  fi
  mkdir -p "$run/influxdb/meta" "$run/influxdb/data" "$run/influxdb/wal"
  INFLUXDB_REPORTING_DISABLED=true INFLUXDB_BIND_ADDRESS=127.0.0.1:8088 INFLUXDB_HTTP_BIND_ADDRESS=127.0.0.1:8086 \
  INFLUXDB_HTTP_LOG_ENABLED=false INFLUXDB_META_DIR="$run/influxdb/meta" INFLUXDB_DATA_DIR="$run/influxdb/data" \
  INFLUXDB_DATA_WAL_DIR="$run/influxdb/wal" INFLUXDB_DATA_QUERY_LOG_ENABLED=false \
    setsid influxd run > "$run/influxdb.log" 2>&1 < /dev/null &
  echo $! > "$run/influxdb.pid"
  start=$SECONDS
  until [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8086/ping)" = 204 ]; do
    if (( SECONDS - start > 30 )); then echo "lab: influxdb not ready after 30s" >&2; tail -5 "$run/influxdb.log" >&2; exit 1; fi
    sleep 0.1
  done
  ;;
stop)
  ;;  # nothing but the process (stopped by PID) and files in RUN_DIR
esac
