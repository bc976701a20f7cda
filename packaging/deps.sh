#!/usr/bin/env bash
# Installs what Parley needs on Debian 12 / Ubuntu 22.04+:
#   packaging/deps.sh          build and run (cgo -dev libraries for Fyne/GL/X11, media codecs)
#   packaging/deps.sh --test   also what the tests need (Xvfb, Chromium, Firefox ESR, poppler-utils, iproute2)
# Installs only what is missing; uses sudo when not root.
set -euo pipefail

build_pkgs=(gcc pkg-config libgl1-mesa-dev libx11-dev libxext-dev libxcursor-dev libxrandr-dev
  libxinerama-dev libxi-dev libxxf86vm-dev libvpx-dev libopus-dev libx264-dev ca-certificates)
test_pkgs=(xvfb xauth chromium firefox-esr poppler-utils iproute2 util-linux fonts-dejavu-core)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_pkgs[@]}")
  # Ubuntu has no firefox-esr package (its firefox is a snap): tests/firefox
  # then uses a firefox on PATH, or skips (fails under CI=true).
  if grep -qs '^ID=ubuntu' /etc/os-release; then
    kept=()
    for p in "${want[@]}"; do [[ "$p" == firefox-esr ]] || kept+=("$p"); done
    want=("${kept[@]}")
    echo "deps: Ubuntu has no firefox-esr; install Firefox yourself for tests/firefox"
  fi
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go: go.mod names the exact toolchain; any Go >= 1.21 fetches it by itself
# (GOTOOLCHAIN=auto). Older or missing Go is reported with a clear message.
if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    echo "deps: installing Debian's golang-go to bootstrap the Go toolchain"
    $SUDO apt-get install -y -qq --no-install-recommends golang-go >/dev/null || true
  fi
fi
if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go is not installed; install Go 1.21 or newer (go.mod selects the exact version)" >&2
  exit 1
fi
minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [[ "$minor" =~ ^[0-9]+$ ]] && ((minor < 21)); then
  echo "deps: $(go env GOVERSION) is too old to fetch the toolchain go.mod asks for; install Go 1.21 or newer" >&2
  exit 1
fi
