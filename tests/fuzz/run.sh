#!/usr/bin/env bash
# Builds the WebSocket decoder fuzzer (libFuzzer + ASan + UBSan, clang) and runs it for a bounded time.
# Usage: tests/fuzz/run.sh [BUILD_DIR]   (default build-fuzz; FUZZ_SECONDS=60, FUZZ_JOBS=1)
# Exits non-zero when the build fails or the fuzzer finds a crash, a leak or a broken invariant;
# the reproducer is left in BUILD_DIR as crash-*/leak-*/timeout-*.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-build-fuzz}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"

cxx="${CXX_FUZZ:-}"
if [[ -z "$cxx" ]]; then
  for c in clang++ clang++-14; do
    if command -v "$c" >/dev/null 2>&1; then cxx="$c"; break; fi
  done
fi
[[ -n "$cxx" ]] || { echo "run.sh: clang++ not found" >&2; exit 2; }

sources=("$root/realtime/ws_codec.cpp" "$root/realtime/ws_handshake.cpp" "$root/core/crypto.cpp" "$root/core/http.cpp"
         "$root/core/json.cpp")
read -r -a cjson <<<"$(pkg-config --cflags --libs libcjson)"
flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wpedantic -Werror -I"$root")

echo "run.sh: building with $cxx into $build"
"$cxx" "${flags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  "$here/ws_decoder_fuzz.cpp" "${sources[@]}" "${cjson[@]}" -lcrypto -o "$build/ws_decoder_fuzz"
"$cxx" "${flags[@]}" -DWS_FUZZ_WRITE_SEEDS \
  "$here/ws_decoder_fuzz.cpp" "${sources[@]}" "${cjson[@]}" -lcrypto -o "$build/ws_fuzz_seeds"

# Seed corpus: the RFC 6455 vectors and a few more, regenerated every run; the working corpus
# (what the fuzzer learns) is kept between runs.
rm -rf "$build/ws-seeds"
mkdir -p "$build/ws-seeds" "$build/ws-corpus"
"$build/ws_fuzz_seeds" "$build/ws-seeds" "$build/ws.dict"

echo "run.sh: fuzzing for ${FUZZ_SECONDS:-60}s"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
args=(
  -max_total_time="${FUZZ_SECONDS:-60}"
  -max_len=70000            # room for the 64 KiB RFC vector
  -timeout=10
  -rss_limit_mb=2048
  -print_final_stats=1
  -dict="$build/ws.dict"
  -artifact_prefix="$build/"
)
jobs="${FUZZ_JOBS:-1}"
if [[ "$jobs" -gt 1 ]]; then
  # Parallel workers write fuzz-N.log into the current directory: keep them in the build dir.
  cd "$build"
  args+=(-jobs="$jobs" -workers="$jobs")
fi
"$build/ws_decoder_fuzz" "${args[@]}" "$build/ws-corpus" "$build/ws-seeds"
echo "run.sh: no findings"
