#!/usr/bin/env bash
# SSH devices for the ssh collector tests (ports and credentials mirrored in tests/lab_support.py):
#  * fakenos: cisco_ios on 127.0.0.1:6001-6004, juniper_junos on 6005-6008 (tests/lab/fakenos_inventory.py):
#    fakenos' own outputs on the first port, the profile's recorded fixtures on the next three
#    (interface_down, after_reboot, garbage). User admin/admin.
#  * Debian OpenSSH with a ForceCommand fake CLI (tests/lab/fake_cli.py) serving the linux_netsnmp
#    profile's fixtures: 127.0.0.1:2222 normal, 2223 interface_down, 2224 after_reboot, 2225 garbage,
#    2226 hang (never answers a command); and 10.250.0.2:22 inside the namespace vigie-h1 (normal).
#    User vigielab, password in RUN_DIR/ssh/password.
#  * The same fake CLI as other platforms, with those profiles' fixtures: fortinet_fortigate on 127.0.0.1:2231
#    normal, 2232 interface_down, 2233 after_reboot, 2234 garbage; mikrotik_routeros on 2241-2244 (same order).
#    RouterOS logins carry console options after "+" (netmiko logs in as vigielab+ct511w4098h): that name is
#    a second local user with the same password.
# Host keys are generated per run into RUN_DIR/ssh; RUN_DIR/ssh/known_hosts lists every endpoint.
# Usage: 20-ssh.sh start|stop RUN_DIR
set -euo pipefail
cmd=$1; run=$2
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/../.." && pwd)
dir=$run/ssh
NS=vigie-h1
USER_NAME=vigielab
OPENSSH_PORTS="2222:normal 2223:interface_down 2224:after_reboot 2225:garbage 2226:hang"
# port:platform:scenario:hostname, served by the same sshd and fake CLI
PLATFORM_PORTS="2231:fortinet_fortigate:normal:FGT60F 2232:fortinet_fortigate:interface_down:FGT60F
2233:fortinet_fortigate:after_reboot:FGT60F 2234:fortinet_fortigate:garbage:FGT60F
2241:mikrotik_routeros:normal:MikroTik 2242:mikrotik_routeros:interface_down:MikroTik
2243:mikrotik_routeros:after_reboot:MikroTik 2244:mikrotik_routeros:garbage:MikroTik"
ROUTEROS_USER="$USER_NAME+ct511w4098h"  # netmiko's mikrotik driver appends these console options
FAKENOS_PORTS="6001 6002 6003 6004 6005 6006 6007 6008"

wait_banner() {  # host port timeout_s [netns]
  local host=$1 port=$2 t=$3 ns=${4:-} i
  for i in $(seq $((t * 10))); do
    if [ -n "$ns" ]; then
      ip netns exec "$ns" timeout 1 bash -c "exec 3<>/dev/tcp/$host/$port && head -c 4 <&3 | grep -q SSH" 2>/dev/null && return 0
    else
      timeout 1 bash -c "exec 3<>/dev/tcp/$host/$port && head -c 4 <&3 | grep -q SSH" 2>/dev/null && return 0
    fi
    sleep 0.1
  done
  echo "20-ssh: no SSH banner on $host:$port after ${t}s" >&2
  return 1
}

case "$cmd" in
start)
  command -v /usr/sbin/sshd >/dev/null || { echo "20-ssh: openssh-server is not installed" >&2; exit 1; }
  # A second lab run on the same machine would answer with other host keys: refuse instead of mixing.
  for p in ${OPENSSH_PORTS//:[a-z_]*/} $FAKENOS_PORTS $(for q in $PLATFORM_PORTS; do echo "${q%%:*}"; done); do
    if ss -Hltn "sport = :$p" | grep -q .; then
      echo "20-ssh: 127.0.0.1:$p is already in use (another lab run?)" >&2; exit 1
    fi
  done
  mkdir -p "$dir/fixtures"
  # The login user must reach the fake CLI and its fixtures: let it traverse RUN_DIR, read RUN_DIR/ssh.
  chmod 711 "$run"; chmod 755 "$dir"
  cp -r "$repo/tests/device_profiles/." "$dir/fixtures/"
  install -m 755 "$here/fake_cli.py" "$dir/fake_cli.py"
  chmod -R a+rX "$dir/fixtures"

  ssh-keygen -q -t ed25519 -N '' -C vigie-lab -f "$dir/hostkey"
  ssh-keygen -q -t ed25519 -N '' -C vigie-lab-impostor -f "$dir/other_hostkey"
  ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -C vigie-lab-fakenos -f "$dir/fakenos_key"
  {
    for p in $OPENSSH_PORTS $PLATFORM_PORTS; do echo "[127.0.0.1]:${p%%:*} $(cut -d' ' -f1,2 "$dir/hostkey.pub")"; done
    echo "10.250.0.2 $(cut -d' ' -f1,2 "$dir/hostkey.pub")"
    for p in $FAKENOS_PORTS; do echo "[127.0.0.1]:$p $(cut -d' ' -f1,2 "$dir/fakenos_key.pub")"; done
  } > "$dir/known_hosts"
  # The same names with another key: what a client sees when a device (or an impostor) changed its key.
  sed "s|$(cut -d' ' -f2 "$dir/hostkey.pub")|$(cut -d' ' -f2 "$dir/other_hostkey.pub")|" "$dir/known_hosts" \
    > "$dir/known_hosts_wrong"

  id "$USER_NAME" >/dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh "$USER_NAME"
  id "$ROUTEROS_USER" >/dev/null 2>&1 || useradd --badname -M -d /nonexistent -s /bin/sh "$ROUTEROS_USER"
  head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/password"
  echo "$USER_NAME:$(cat "$dir/password")" | chpasswd
  echo "$ROUTEROS_USER:$(cat "$dir/password")" | chpasswd
  [ -d /run/sshd ] || { mkdir -p /run/sshd; touch "$dir/created_run_sshd"; }

  common="HostKey $dir/hostkey
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
AllowUsers $USER_NAME $ROUTEROS_USER
StrictModes no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
LogLevel INFO"
  {
    for p in $OPENSSH_PORTS $PLATFORM_PORTS; do echo "Port ${p%%:*}"; done
    echo "ListenAddress 127.0.0.1"
    echo "PidFile $run/sshd-lab.pid"
    echo "$common"
    for p in $OPENSSH_PORTS; do
      echo "Match LocalPort ${p%%:*}"
      echo "  ForceCommand $dir/fake_cli.py $dir/fixtures linux_netsnmp ${p#*:} cpe-linux-1"
    done
    for p in $PLATFORM_PORTS; do
      IFS=: read -r port platform scenario host <<< "$p"
      echo "Match LocalPort $port"
      echo "  ForceCommand $dir/fake_cli.py $dir/fixtures $platform $scenario $host"
    done
  } > "$dir/sshd_config"
  {
    echo "Port 22"
    echo "ListenAddress 10.250.0.2"
    echo "PidFile $run/sshd-ns.pid"
    echo "$common"
    echo "ForceCommand $dir/fake_cli.py $dir/fixtures linux_netsnmp normal cpe-linux-ns"
  } > "$dir/sshd_ns_config"
  /usr/sbin/sshd -t -f "$dir/sshd_config"
  /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  ip netns exec "$NS" /usr/sbin/sshd -f "$dir/sshd_ns_config" -E "$dir/sshd-ns.log"
  # sshd daemonizes and writes its own PidFile; tests/lab/run stops what RUN_DIR/*.pid names.
  for _ in $(seq 50); do [ -s "$run/sshd-lab.pid" ] && [ -s "$run/sshd-ns.pid" ] && break; sleep 0.1; done

  "$repo/.venv/bin/python" "$here/fakenos_inventory.py" "$dir/fakenos.yaml" "$dir/fakenos_key"
  setsid "$repo/.venv/bin/fakenos" -i "$dir/fakenos.yaml" > "$dir/fakenos.log" 2>&1 < /dev/null &
  echo $! > "$run/fakenos.pid"

  for p in $OPENSSH_PORTS $PLATFORM_PORTS; do wait_banner 127.0.0.1 "${p%%:*}" 10; done
  wait_banner 10.250.0.2 22 10 "$NS"
  for p in $FAKENOS_PORTS; do wait_banner 127.0.0.1 "$p" 30; done
  ;;
stop)
  # The processes were stopped by PID (tests/lab/run); what is left is the test user and /run/sshd.
  if id "$USER_NAME" >/dev/null 2>&1; then userdel "$USER_NAME" 2>/dev/null || true; fi
  if id "$ROUTEROS_USER" >/dev/null 2>&1; then userdel "$ROUTEROS_USER" 2>/dev/null || true; fi
  if [ -e "$dir/created_run_sshd" ]; then rmdir /run/sshd 2>/dev/null || true; fi
  ;;
esac
