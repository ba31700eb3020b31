#!/usr/bin/env bash
# Escrow benchmark for souk: the payment watcher on a private regtest chain with
# 1,000 open orders awaiting payment, each on its own subaddress of the shop's
# wallet (one get_transfers per cycle; goal: a cycle under 1 s), the database
# part against the per-order reads of the previous watcher (baseline measured in
# the same run), and the time from the block that confirms a payment to the
# order being paid.
#
#   bash bench/escrow.sh [path-to-binary]
#
# Needs: monerod + monero-wallet-rpc (Debian monero). souk's hidden
# `bench-escrow` command starts them itself (the demo's chain code: loopback,
# free ports, random digest logins, a throw-away temp dir) and stops them by
# PID; they also die with souk (setpriv --pdeathsig). Output: stdout and
# target/bench/escrow.txt.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-$ROOT/target/x86_64-unknown-linux-gnu/release/souk}
[[ $BIN == /* ]] || BIN="$PWD/$BIN"
OUT_DIR="$ROOT/target/bench"
OUT="$OUT_DIR/escrow.txt"
ORDERS=1000     # open orders awaiting payment, one subaddress each
CYCLES=20       # watcher cycles timed
PAYMENTS=5      # payments timed from their confirming block to paid

die() { echo "escrow.sh: $*" >&2; exit 1; }
[[ -x $BIN ]] || die "binary not found: $BIN (run \`make static\` or pass a path)"
for t in monerod monero-wallet-rpc; do
  command -v "$t" >/dev/null || die "missing tool: $t (apt install monero)"
done

mkdir -p "$OUT_DIR"
{
  echo "# souk escrow benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $("$BIN" --version)"
  echo "# monerod $(monerod --version | grep -o 'v[0-9.]*' | head -1), regtest, fixed difficulty 1"
  timeout 900 "$BIN" bench-escrow --orders "$ORDERS" --cycles "$CYCLES" --payments "$PAYMENTS"
} | tee "$OUT"
