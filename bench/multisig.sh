#!/usr/bin/env bash
# Multisig escrow benchmark for souk: K 2-of-3 multisig escrows set up and
# funded at the same time on a private regtest chain, through souk's multisig
# engine (the functions the setup page and the multisig job call) and its
# wallet-rpc pool. Reports time per escrow (setup and funding, median and
# p95), total wall time, throughput, and resident memory (peak of 250 ms
# samples, summed over processes) of souk plus its pool children, with the
# benchmark's buyer/vendor wallet-rpc processes apart. Run for two K to see
# that memory follows the pool size, not the number of escrows.
#
#   bash bench/multisig.sh [path-to-binary]
#   K="10 50" POOL=2 PARTICIPANTS=2 bash bench/multisig.sh
#
# Needs: monerod + monero-wallet-rpc (Debian monero). souk's hidden
# `bench-multisig` command starts them itself (loopback, free ports, a
# throw-away temp dir) and stops them by PID. Output: stdout and
# target/bench/multisig.txt.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-$ROOT/target/x86_64-unknown-linux-gnu/release/souk}
[[ $BIN == /* ]] || BIN="$PWD/$BIN"
OUT_DIR="$ROOT/target/bench"
OUT="$OUT_DIR/multisig.txt"
# Escrows in flight at once, one run each. Every wallet open costs a 4096-bit
# RSA key (0.5-3 s CPU, docs/multisig.md), so on 2 busy cores K=10 takes ~6
# minutes and K=20 ~12; K=50 (the issue's goal) takes about half an hour.
K=${K:-"10 20"}
POOL=${POOL:-2}                 # souk's wallet-rpc pool (escrow.multisig_pool_size)
PARTICIPANTS=${PARTICIPANTS:-2} # benchmark wallet-rpc processes per side (buyers, vendors)

die() { echo "multisig.sh: $*" >&2; exit 1; }
[[ -x $BIN ]] || die "binary not found: $BIN (run \`make static\` or pass a path)"
for t in monerod monero-wallet-rpc; do
  command -v "$t" >/dev/null || die "missing tool: $t (apt install monero)"
done
for k in $K; do [[ $k =~ ^[1-9][0-9]*$ ]] || die "K must be positive numbers, got: $K"; done

mkdir -p "$OUT_DIR"
TIMES=$(mktemp)
trap 'rm -f "$TIMES"' EXIT
failed=0
{
  echo "# souk multisig escrow benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $("$BIN" --version)"
  echo "# monerod $(monerod --version | grep -o 'v[0-9.]*' | head -1), regtest, fixed difficulty 1"
  for k in $K; do
    if ! /usr/bin/time -o "$TIMES" -f "%e" timeout 1800 \
        "$BIN" bench-multisig --escrows "$k" --pool "$POOL" --participants "$PARTICIPANTS"; then
      echo "  K=$k: bench-multisig failed (see above)"
      failed=1
    fi
    read -r wall < <(tail -1 "$TIMES")
    echo "  whole run for K=$k (chain start and teardown included): ${wall} s wall"
  done
  exit $failed
} | tee "$OUT"
