#!/usr/bin/env bash
# SNMP agents for the tests (see ../../lab_support.py for the addresses):
#  * snmpsim on 127.0.0.1:1161 and [::1]:1161: the synthetic per-platform fixtures (community / v3 context
#    `<platform>-<scenario>`) and the shared real-world recordings (community = file stem), v2c and v3 authPriv
#    SHA/AES (user simulator / auctoritas / privatus);
#  * Debian snmpd on 127.0.0.1:1162 (the host's own MIB-II / HOST-RESOURCES);
#  * Debian snmpd inside the netns vigie-h1 on 10.250.0.2:161, whose ifTable shows the veth going down.
# snmpd: community `public` (read-only, loopback / lab prefix only), v3 user vigie authPriv SHA/AES.
# Usage: 10-snmp.sh start|stop RUN_DIR   (processes are stopped by PID by tests/lab/run)
set -euo pipefail
cmd=$1; run=$2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
NS=vigie-h1
py=${VIGIE_LAB_PYTHON:-$repo/.venv/bin/python}
shared=${VIGIE_SHARED_FIXTURES:-$repo/../shared/fixtures}
export MIBS= MIBDIRS=/nonexistent

wait_for() {  # wait_for NAME SECONDS COMMAND...: bounded readiness loop
  local name=$1 limit=$2 start=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start > limit )); then echo "lab: $name not ready after ${limit}s" >&2; return 1; fi
    sleep 0.1
  done
}

snmpd_conf() {  # snmpd_conf FILE LISTEN SOURCE
  cat > "$1" <<CONF
agentAddress udp:$2
rocommunity public $3
rocommunity6 public ::1
createUser vigie SHA "vigie-auth-key" AES "vigie-priv-key"
rouser vigie priv
sysName vigie-lab-snmpd
sysLocation vigie test lab
CONF
}

case "$cmd" in
start)
  command -v snmpd >/dev/null || { echo "lab: snmpd not installed (see .ci/apt-packages.txt)" >&2; exit 1; }
  # snmpsim drops to nobody: it must reach its data and cache directories
  chmod 711 "$run"
  mkdir -p "$run/snmpsim-data" "$run/snmpsim-cache"
  chmod 777 "$run/snmpsim-cache"
  "$py" "$here/../build_snmpsim_data.py" "$run/snmpsim-data" "$shared/snmprec"
  chmod -R a+rX "$run/snmpsim-data"
  # Workaround (test-lab.md §2a): pre-import the stdlib modules snmpsim loads lazily after dropping privileges,
  # because the interpreter lives under a directory nobody cannot read.
  cat > "$run/run_snmpsim.py" <<'PY'
import dbm, dbm.dumb, encodings.latin_1, encodings.utf_8, encodings.ascii, encodings.idna, sys  # noqa
from snmpsim.commands.responder import main
sys.exit(main())
PY
  setsid "$py" "$run/run_snmpsim.py" --data-dir="$run/snmpsim-data" --cache-dir="$run/snmpsim-cache" \
    --agent-udpv4-endpoint=127.0.0.1:1161 --agent-udpv6-endpoint='[::1]:1161' \
    --v3-user=simulator --v3-auth-key=auctoritas --v3-auth-proto=SHA --v3-priv-key=privatus --v3-priv-proto=AES \
    --process-user=nobody --process-group=nogroup --logging-method=null \
    > "$run/snmpsim.log" 2>&1 < /dev/null &
  echo $! > "$run/snmpsim.pid"

  snmpd_conf "$run/snmpd.conf" 127.0.0.1:1162,udp6:[::1]:1162 127.0.0.1
  mkdir -p "$run/snmpd-p"
  SNMP_PERSISTENT_DIR="$run/snmpd-p" setsid snmpd -f -Lo -C -c "$run/snmpd.conf" \
    > "$run/snmpd.log" 2>&1 < /dev/null &
  echo $! > "$run/snmpd.pid"

  snmpd_conf "$run/snmpd-ns.conf" 10.250.0.2:161 10.250.0.0/30
  mkdir -p "$run/snmpd-ns-p"
  SNMP_PERSISTENT_DIR="$run/snmpd-ns-p" ip netns exec "$NS" setsid snmpd -f -Lo -C -c "$run/snmpd-ns.conf" \
    > "$run/snmpd-ns.log" 2>&1 < /dev/null &
  echo $! > "$run/snmpd-ns.pid"

  wait_for snmpsim 30 snmpget -v2c -c linux_netsnmp-normal -t 0.3 -r 0 127.0.0.1:1161 1.3.6.1.2.1.1.5.0
  wait_for snmpd 15 snmpget -v2c -c public -t 0.3 -r 0 127.0.0.1:1162 1.3.6.1.2.1.1.5.0
  wait_for snmpd-ns 15 snmpget -v2c -c public -t 0.3 -r 0 10.250.0.2 1.3.6.1.2.1.1.5.0
  ;;
stop)
  ;;  # nothing but processes (stopped by PID) and files in RUN_DIR
esac
