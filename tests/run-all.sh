#!/usr/bin/env bash
# The whole souk test suite, exactly what CI runs (.ci/run calls this file).
#
# On a fresh Debian 12 machine it first installs what the tests use: the real
# tools, never mocks (promtool from prometheus, tor, systemd-analyze, age,
# monerod ...), and cargo-deb. As root it also installs and purges the built
# .deb on this machine (tests/packaging.rs); without root that one test is
# reported as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(prometheus tor systemd age zstd monero chromium chromium-driver fonts-dejavu-core file curl ca-certificates build-essential)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || { echo "run as root or install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! cargo deb --version >/dev/null 2>&1; then
  echo "==> installing cargo-deb"
  cargo install cargo-deb --locked --quiet
fi

echo "==> static release binary and .deb"
make --no-print-directory static
cargo deb --no-build --target x86_64-unknown-linux-gnu --quiet

echo "==> cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [[ $(id -u) == 0 ]]; then
  ignored=(--include-ignored)
else
  ignored=()
  echo "note: not root: the .deb install/purge test is skipped"
fi
set +e
if ((${#ignored[@]})); then
  cargo test --locked --no-fail-fast -- "${ignored[@]}" 2>&1 | tee "$log"
else
  cargo test --locked --no-fail-fast 2>&1 | tee "$log"
  cargo test --locked --test static_binary -- --ignored 2>&1 | tee -a "$log"
fi
status=${PIPESTATUS[0]}
set -e

passed=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')
skipped=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) ignored.*/\1/' | awk '{s+=$1} END {print s+0}')
if ((passed == 0)); then
  echo "no tests ran: that is a failure" >&2
  exit 1
fi
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
if ((status != 0 || failed != 0)); then
  exit 1
fi
