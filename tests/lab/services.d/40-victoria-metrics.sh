#!/usr/bin/env bash
# VictoriaMetrics on 127.0.0.1:8428: the InfluxDB v2 *write* target of the agent tests (test-lab.md §5b).
# influxdb-client writes to /api/v2/write; tests read back through /api/v1/export. Storage lives in RUN_DIR.
# Usage: 40-victoria-metrics.sh start|stop RUN_DIR   (the process is stopped by PID by tests/lab/run)
set -euo pipefail
cmd=$1; run=$2

case "$cmd" in
start)
  command -v victoria-metrics >/dev/null || { echo "lab: victoria-metrics not installed (see .ci/apt-packages.txt)" >&2; exit 1; }
  mkdir -p "$run/vm-data"
  setsid victoria-metrics -storageDataPath="$run/vm-data" -httpListenAddr=127.0.0.1:8428 -retentionPeriod=5y \
    -search.latencyOffset=0s -loggerLevel=WARN > "$run/victoria-metrics.log" 2>&1 < /dev/null &
  echo $! > "$run/victoria-metrics.pid"
  start=$SECONDS
  until curl -sf http://127.0.0.1:8428/health >/dev/null 2>&1; do
    if (( SECONDS - start > 30 )); then echo "lab: victoria-metrics not ready after 30s" >&2; exit 1; fi
    sleep 0.1
  done
  ;;
stop)
  ;;  # nothing but the process (stopped by PID) and files in RUN_DIR
esac
