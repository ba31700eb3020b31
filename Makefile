# Convenience targets. The static build needs an explicit --target: without it the
# crt-static flag would also apply to proc-macro crates, which cannot link statically.
TARGET := x86_64-unknown-linux-gnu
STATIC_BIN := target/$(TARGET)/release/souk

.PHONY: static deb test run bench

## Statically linked release binary (static-pie, no NSS: dial IP literals).
static:
	RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target $(TARGET)
	@file $(STATIC_BIN)

## Debian package from the static binary (needs cargo-deb).
deb: static
	cargo deb --no-build --target $(TARGET)

## The whole test suite, exactly as CI runs it.
test:
	bash tests/run-all.sh

## The shop on its embedded defaults.
run:
	cargo run --release -- serve

## Benchmarks (not part of the test suite).
bench: static
	bash bench/foundation.sh
	bash bench/escrow.sh
	bash bench/multisig.sh
