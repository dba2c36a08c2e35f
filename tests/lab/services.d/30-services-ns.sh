#!/usr/bin/env bash
# What the scapy collectors (tcp, udp, trace) probe. Addresses mirrored in tests/lab_support.py.
#
# Services on the test host vigie-h1 (10.250.0.2, made by 00-netns.sh):
#   TCP 8080 open (a listener), 8081 closed (nothing listens: RST), 8082 dropped by nftables (no answer),
#   8083 rejected by nftables with ICMP admin-prohibited; DNS (dnsmasq) on UDP 53 answering
#   svc.vigie.test A 10.250.0.2 and NXDOMAIN otherwise; UDP 5353 closed (ICMP port unreachable),
#   UDP 5354 dropped; UDP 5355 a responder that answers any query with its id, then garbage.
#
# A routed path behind it, for the trace collector (all inside 10.250.0.0/16, which 00-netns.sh blackholes
# in the root namespace, so nothing can leave the machine):
#   agent (root ns, 10.250.0.1) -- vigie-h1 customer LAN router (10.250.0.2 | 10.250.1.1)
#     -- vigie-cpe CPE (10.250.1.2 | 10.250.2.1) -- access link -- vigie-pe provider edge (10.250.2.2 | 10.250.3.1)
#     -- vigie-far a host beyond the provider edge (10.250.3.2)
# Hops seen from the agent: 1 = 10.250.0.2 (LAN), 2 = 10.250.1.2 (CPE), 3 = 10.250.2.2 (PE), 4 = 10.250.3.2.
# ICMP rate limiting is off in these namespaces so that back-to-back traces get every time-exceeded.
# Usage: 30-services-ns.sh start|stop RUN_DIR
set -euo pipefail
cmd=$1; run=$2
dir=$run/ns-services
H1=vigie-h1
ROUTERS="vigie-cpe vigie-pe vigie-far"

link() {  # ns_a if_a addr_a ns_b if_b addr_b
  ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
  ip -n "$1" addr add "$3" dev "$2"; ip -n "$1" link set "$2" up
  ip -n "$4" addr add "$6" dev "$5"; ip -n "$4" link set "$5" up
}

# Every route of the lab path, idempotent: taking an interface down deletes the routes through it, so a test
# that cut a link calls `30-services-ns.sh routes RUN_DIR` after bringing it back up.
routes() {
  ip -n $H1 route replace default via 10.250.0.1
  ip -n $H1 route replace 10.250.2.0/24 via 10.250.1.2
  ip -n $H1 route replace 10.250.3.0/24 via 10.250.1.2
  ip -n vigie-cpe route replace default via 10.250.2.2             # the CPE's way out is its access link
  ip -n vigie-cpe route replace 10.250.0.0/24 via 10.250.1.1
  ip -n vigie-pe route replace 10.250.0.0/24 via 10.250.2.1        # no default: unknown prefixes are unreachable
  ip -n vigie-pe route replace 10.250.1.0/24 via 10.250.2.1
  ip -n vigie-far route replace default via 10.250.3.1
  # root namespace: the routed part goes through the test host (more specific than the /16 blackhole)
  for net in 10.250.1.0/24 10.250.2.0/24 10.250.3.0/24; do ip route replace "$net" via 10.250.0.2 dev vigie-h0; done
}

case "$cmd" in
routes)
  routes
  ;;
start)
  mkdir -p "$dir"
  for ns in $ROUTERS; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; ip -n "$ns" link set lo up; done
  link $H1 lan-cpe 10.250.1.1/30 vigie-cpe cpe-lan 10.250.1.2/30
  link vigie-cpe cpe-pe 10.250.2.1/30 vigie-pe pe-cpe 10.250.2.2/30      # the access link
  link vigie-pe pe-far 10.250.3.1/30 vigie-far far-pe 10.250.3.2/30
  for ns in $H1 $ROUTERS; do
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0
  done
  routes
  # Filtered ports on the test host: a table of ours, removed with the namespace.
  ip netns exec $H1 nft -f - <<'EOF'
table inet vigie_services {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 8082 drop
    tcp dport 8083 reject with icmp type admin-prohibited
    udp dport 5354 drop
  }
}
EOF
  # TCP listener (Debian's python3: stdlib only) and DNS server, both bound to the test host's address.
  ip netns exec $H1 setsid /usr/bin/python3 -m http.server 8080 --bind 10.250.0.2 --directory "$dir" \
    > "$dir/http.log" 2>&1 < /dev/null &
  echo $! > "$run/ns-http.pid"
  ip netns exec $H1 setsid /usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll \
    --bind-interfaces --listen-address=10.250.0.2 --port=53 --user=root --group=root \
    --pid-file="$dir/dnsmasq.pid" --log-facility=- --address=/svc.vigie.test/10.250.0.2 \
    --address=/vigie.test/ > "$dir/dnsmasq.log" 2>&1 < /dev/null &
  echo $! > "$run/ns-dnsmasq.pid"

  ip netns exec $H1 setsid /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.250.0.2", 5355))
while True:
    data, peer = s.recvfrom(2048)
    # the query id and a "response" flag, then counts that promise records which never come, then junk
    s.sendto(data[:2] + b"\x81\x80\x00\x07\x00\x09\x00\x00\x00\x00\xde\xad\xbe\xef~~garbage~~", peer)
' > "$dir/garbage-udp.log" 2>&1 < /dev/null &
  echo $! > "$run/ns-garbage-udp.pid"

  for _ in $(seq 100); do
    ip netns exec $H1 ss -Hltn 'sport = :8080' | grep -q . && ip netns exec $H1 ss -Hlun 'sport = :53' | grep -q . && break
    sleep 0.1
  done
  ip netns exec $H1 ss -Hltn 'sport = :8080' | grep -q . || { echo "30-services-ns: no TCP listener" >&2; exit 1; }
  ip netns exec $H1 ss -Hlun 'sport = :53' | grep -q . || { echo "30-services-ns: no DNS server" >&2; exit 1; }
  ;;
stop)
  for ns in $ROUTERS; do ip netns del "$ns" 2>/dev/null || true; done
  for net in 10.250.1.0/24 10.250.2.0/24 10.250.3.0/24; do ip route del "$net" 2>/dev/null || true; done
  ;;
esac
