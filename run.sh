#!/usr/bin/env bash
# Runs Parley on this machine: installs missing system packages, builds,
# starts a relay with its data in .run/relay-data, and opens the desktop app
# connected to it (certificate pinned). Ctrl-C or closing the app stops both.
#
#   ./run.sh                 relay + desktop app
#   ./run.sh --relay-only    just the relay (headless server)
set -euo pipefail
cd "$(dirname "$0")"
packaging/deps.sh
export PATH="$PATH:/usr/local/go/bin"

mkdir -p .run bin
echo "run: building (the first build of the desktop app takes a few minutes)"
go build -o bin/parley-relay ./relay
if [[ "${1:-}" != "--relay-only" ]]; then
  go build -o bin/parley .
fi

listen="${PARLEY_LISTEN:-127.0.0.1:8443}"
data=".run/relay-data"
# Media goes on this machine's LAN address (browsers never offer loopback
# candidates, so a customer page on this machine could not reach a
# loopback-only SFU); PARLEY_MEDIA_LISTEN overrides it.
lan=$(hostname -I 2>/dev/null | awk '{print $1}')
media="${PARLEY_MEDIA_LISTEN:-${lan:+$lan:8444}}"
bin/parley-relay --data "$data" --listen "$listen" ${media:+--media-listen "$media"} --tenant "${PARLEY_TENANT:-default}" &
relay=$!
trap 'kill $relay 2>/dev/null; wait $relay 2>/dev/null || true' EXIT

# Wait until the relay accepts connections (first start also creates the
# admin, which takes a moment).
host="${listen%:*}"; port="${listen##*:}"
[[ "$host" == "0.0.0.0" || -z "$host" ]] && host=127.0.0.1
for i in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then break; fi
  kill -0 $relay 2>/dev/null || { echo "run: the relay did not start" >&2; exit 1; }
  ((i == 300)) && { echo "run: the relay is not answering on $listen" >&2; exit 1; }
  sleep 0.1
done

if [[ "${1:-}" == "--relay-only" ]]; then
  wait $relay
  exit
fi

fp=$(bin/parley-relay fingerprint --data "$data")
PARLEY_RELAY="https://$host:$port" PARLEY_RELAY_FINGERPRINT="$fp" PARLEY_TENANT="${PARLEY_TENANT:-default}" bin/parley
