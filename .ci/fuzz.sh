#!/usr/bin/env bash
# Bounded coverage-guided fuzzing (fuzz/README.md): runs each cargo-fuzz
# target for FUZZ_SECONDS (default 90), prints its executions and exits
# non-zero when a target crashes, keeping the crashing input.
#
#   FUZZ_SECONDS    seconds per target (default 90)
#   FUZZ_TARGETS    targets to run (default: all of fuzz/fuzz_targets)
#   FUZZ_TOOLCHAIN  rustup toolchain (default: nightly if installed, else the
#                   default one with RUSTC_BOOTSTRAP=1 for cargo-fuzz's
#                   nightly-only flags)
#   FUZZ_SANITIZER  address, none, ... (default none: the fuzzed crates are
#                   safe Rust; overflow checks and debug assertions stay on)
#   FUZZ_WORK       where the growing corpus and crash inputs are kept
#                   (default /var/tmp/steward-fuzz; reused by later runs)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-90}"
sanitizer="${FUZZ_SANITIZER:-none}"
work="${FUZZ_WORK:-/var/tmp/steward-fuzz}"
# Outside the repo and apart from the main build's target dir: the fuzz
# build uses other compiler flags, so sharing would rebuild both.
target_dir="${FUZZ_TARGET_DIR:-/var/tmp/steward-fuzz-target}"
read -r -a targets <<<"${FUZZ_TARGETS:-$(cd fuzz/fuzz_targets && ls -- *.rs | sed 's/\.rs$//' | tr '\n' ' ')}"

# libFuzzer itself is C++, built by libfuzzer-sys.
if ! command -v c++ >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

toolchain="${FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ] && cargo +nightly --version >/dev/null 2>&1; then
  toolchain=nightly
fi
cargo=(cargo)
[ -n "$toolchain" ] && cargo+=("+$toolchain")
if [ "$toolchain" != nightly ]; then
  # A stable toolchain accepts cargo-fuzz's -Z flags with this set.
  export RUSTC_BOOTSTRAP=1
fi
echo "fuzz: $("${cargo[@]}" --version), rustc $(rustc ${toolchain:+"+$toolchain"} --version | cut -d' ' -f2)${RUSTC_BOOTSTRAP:+, RUSTC_BOOTSTRAP=1}, sanitizer $sanitizer"

opts=(--fuzz-dir fuzz --target-dir "$target_dir" --sanitizer "$sanitizer")
"${cargo[@]}" fuzz build "${opts[@]}"

passed=0 failed=0
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target" artifacts="$work/artifacts/$target" log="$work/$target.log"
  mkdir -p "$corpus" "$artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$artifacts/")
  [ -f "fuzz/$target.dict" ] && args+=(-dict="fuzz/$target.dict")
  # New inputs go to the first corpus directory; the committed seeds are
  # only read.
  status=0
  "${cargo[@]}" fuzz run "${opts[@]}" "$target" "$corpus" "fuzz/corpus/$target" -- "${args[@]}" \
    >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  echo "fuzz $target: ${runs:-?} executions (${rate:-?} exec/s), corpus $(find "$corpus" -type f | wc -l) inputs, log $log"
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "fuzz $target FAILED (exit $status):"
    if grep -qE "panicked at|ERROR: libFuzzer" "$log"; then
      grep -E -A12 "panicked at|ERROR: libFuzzer" "$log" | head -40
    else
      tail -40 "$log"
    fi
    grep -h "Test unit written to" "$log" || true
    echo "reproduce: ${RUSTC_BOOTSTRAP:+RUSTC_BOOTSTRAP=1 }${cargo[*]} fuzz run ${opts[*]} $target <crash file>"
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
