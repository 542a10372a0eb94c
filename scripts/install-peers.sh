#!/usr/bin/env bash
# Installs the system peers the interop tests talk to (Debian packages).
# As root: installs what is missing with apt-get. Otherwise: prints exactly what is
# missing and exits non-zero, so `npm run test:interop` never runs against absent peers.
#
# Each entry: <Debian package>|<shell check that succeeds when the peer is usable>
set -euo pipefail

PEERS=(
  "openssl|command -v openssl"   # test certificates (TLS, HTTPS, HTTP/2 over TLS)
  "curl|command -v curl"         # HTTP client peer
  "wrk|command -v wrk"           # HTTP/1.1 load generator (interop: pipelining; bench)
  "nghttp2-client|command -v nghttp && command -v h2load" # HTTP/2 client peer and load generator
  "ngtcp2-client|command -v gtlsclient" # ngtcp2's QUIC and HTTP/3 client (GnuTLS build)
  "nginx-light|test -x /usr/sbin/nginx" # HTTP/1.1 file server peer for the client
  "chromium|command -v chromium"  # browser peer: WebSocket from a real page
  "python3-websockets|/usr/bin/python3 -c 'import websockets'" # independent WebSocket client
  "python3-libtorrent|/usr/bin/python3 -c 'import libtorrent'" # libtorrent's Mainline DHT
  "serf|command -v serf"           # HashiCorp Serf: memberlist gossip peer
  "coturn|command -v turnserver"   # coturn: STUN and TURN server peer
  "iptables|command -v iptables"   # NAT routers in the network-namespace ICE test
  "prometheus|command -v promtool" # checks the Prometheus exposition text
  # strict OpenMetrics parser (Debian's python3, not any other python on PATH)
  "python3-prometheus-client|/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser'"
)

missing_pkgs=()
missing_cmds=()
for entry in "${PEERS[@]}"; do
  pkg=${entry%%|*}
  check=${entry#*|}
  if ! bash -c "$check" >/dev/null 2>&1; then
    missing_cmds+=("$check")
    missing_pkgs+=("$pkg")
  fi
done

if [ ${#missing_pkgs[@]} -eq 0 ]; then
  echo "install-peers: all interop peers present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  printf 'install-peers: missing: %s\n' "${missing_pkgs[@]}" >&2
  echo "install-peers: install them as root with:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing_pkgs[*]}" >&2
  exit 1
fi

echo "install-peers: installing ${missing_pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null

for check in "${missing_cmds[@]}"; do
  if ! bash -c "$check" >/dev/null 2>&1; then
    echo "install-peers: still failing after install: $check" >&2
    exit 1
  fi
done
echo "install-peers: installed ${missing_pkgs[*]}"
