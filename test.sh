#!/usr/bin/env bash
# Runs every Parley test: installs what is missing, checks formatting and
# vet/staticcheck, builds everything, then runs unit, integration, GUI (Xvfb)
# and browser end-to-end (Chromium) tests with the race detector inside a
# fresh network namespace that has only a loopback interface, so no test can
# reach any other address.
#
#   ./test.sh            everything (what CI runs)
#   ./test.sh -short     skip the slow end-to-end suites
set -euo pipefail
cd "$(dirname "$0")"
packaging/deps.sh --test
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
export CGO_ENABLED=1

short=""
[[ "${1:-}" == "-short" ]] && short="-short"

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "modules"
go mod download
go mod verify >/dev/null
go mod tidy -diff

step "format"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.run/*'))
if [[ -n "$unformatted" ]]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

step "build (relay without cgo, desktop app with cgo)"
CGO_ENABLED=0 go build -o /dev/null ./relay
go build ./...

step "vet"
go vet ./...

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "compile tests"
go test -race -count=1 -run '^$' ./... >/dev/null

step "warm the PDF renderer's compilation cache (minutes under -race when cold)"
go test -count=1 -run '^TestRenderDrawsTheRectangleWhereThePDFPutsIt$' ./relay/pdfrender >/dev/null

step "tests (race detector, loopback-only network namespace)"
inner="ip link set lo up && GOPROXY=off go test -race -count=1 -timeout 25m $short ./..."
if unshare --net true 2>/dev/null; then
  unshare --net bash -c "$inner"
elif sudo -n unshare --net true 2>/dev/null; then
  sudo -n --preserve-env unshare --net bash -c "$inner"
else
  echo "test: cannot create a network namespace here; running on the host's loopback only" >&2
  go test -race -count=1 -timeout 25m $short ./...
fi
