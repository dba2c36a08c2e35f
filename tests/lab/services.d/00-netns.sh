#!/usr/bin/env bash
# The test host: network namespace vigie-h1 at 10.250.0.2, reached from the root namespace over veth
# vigie-h0 (10.250.0.1/30). A blackhole route for the whole test prefix is installed first, so that when a
# test cuts the link nothing ever leaks out of the default route. Also opens unprivileged ICMP sockets.
# Usage: 00-netns.sh start|stop RUN_DIR
set -euo pipefail
cmd=$1; run=$2
NS=vigie-h1
case "$cmd" in
start)
  sysctl -n net.ipv4.ping_group_range > "$run/ping_group_range.saved"
  sysctl -qw net.ipv4.ping_group_range="0 2147483647"
  ip route replace blackhole 10.250.0.0/16
  ip netns del "$NS" 2>/dev/null || true
  ip link del vigie-h0 2>/dev/null || true
  ip netns add "$NS"
  ip link add vigie-h0 type veth peer name vigie-h1
  ip link set vigie-h1 netns "$NS"
  ip addr add 10.250.0.1/30 dev vigie-h0
  ip link set vigie-h0 up
  ip netns exec "$NS" ip addr add 10.250.0.2/30 dev vigie-h1
  ip netns exec "$NS" ip link set vigie-h1 up
  ip netns exec "$NS" ip link set lo up
  ip netns exec "$NS" ip route add default via 10.250.0.1
  ;;
stop)
  ip netns del "$NS" 2>/dev/null || true
  ip link del vigie-h0 2>/dev/null || true
  ip route del blackhole 10.250.0.0/16 2>/dev/null || true
  if [ -s "$run/ping_group_range.saved" ]; then
    sysctl -qw net.ipv4.ping_group_range="$(cat "$run/ping_group_range.saved")"
  fi
  ;;
esac
