#!/usr/bin/env bash
# Builds the libFuzzer targets (libFuzzer + ASan + UBSan, clang) and runs each for a bounded time:
# ws_decoder_fuzz (WebSocket decoder, handshake) and rest_input_fuzz (REST readers, decoding, JSON, routing).
# Usage: tests/fuzz/run.sh [BUILD_DIR]   (default build-fuzz; FUZZ_SECONDS=60 per target, FUZZ_JOBS=1)
# Exits non-zero when a build fails or either fuzzer finds a crash, a leak or a broken invariant;
# the reproducer is left in BUILD_DIR as crash-*/leak-*/timeout-* (ws) or rest-crash-*/rest-leak-*/... (rest).
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
rest_sources=("$root/core/validate.cpp" "$root/core/json.cpp" "$root/core/http.cpp" "$root/core/crypto.cpp"
              "$root/core/router.cpp")
read -r -a cjson <<<"$(pkg-config --cflags --libs libcjson)"
flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wpedantic -Werror -I"$root")
fuzz_flags=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

echo "run.sh: building with $cxx into $build"
"$cxx" "${flags[@]}" "${fuzz_flags[@]}" \
  "$here/ws_decoder_fuzz.cpp" "${sources[@]}" "${cjson[@]}" -lcrypto -o "$build/ws_decoder_fuzz"
"$cxx" "${flags[@]}" -DWS_FUZZ_WRITE_SEEDS \
  "$here/ws_decoder_fuzz.cpp" "${sources[@]}" "${cjson[@]}" -lcrypto -o "$build/ws_fuzz_seeds"
"$cxx" "${flags[@]}" "${fuzz_flags[@]}" \
  "$here/rest_input_fuzz.cpp" "${rest_sources[@]}" "${cjson[@]}" -lcrypto -o "$build/rest_input_fuzz"
"$cxx" "${flags[@]}" -DREST_FUZZ_WRITE_SEEDS \
  "$here/rest_input_fuzz.cpp" "${rest_sources[@]}" "${cjson[@]}" -lcrypto -o "$build/rest_fuzz_seeds"

# Seed corpora: the RFC 6455 vectors and a few more (ws), ordinary and hand-found hostile requests (rest),
# regenerated every run; the working corpora (what the fuzzers learn) are kept between runs.
rm -rf "$build/ws-seeds" "$build/rest-seeds"
mkdir -p "$build/ws-seeds" "$build/ws-corpus" "$build/rest-seeds" "$build/rest-corpus"
"$build/ws_fuzz_seeds" "$build/ws-seeds" "$build/ws.dict"
"$build/rest_fuzz_seeds" "$build/rest-seeds" "$build/rest.dict"

seconds="${FUZZ_SECONDS:-60}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
common=(
  -max_total_time="$seconds"
  -timeout=10
  -rss_limit_mb=2048
  -print_final_stats=1
)
jobs="${FUZZ_JOBS:-1}"
rest_logs="$PWD"
if [[ "$jobs" -gt 1 ]]; then
  # Parallel workers write fuzz-N.log into the current directory: keep them in the build dir
  # (the rest target's in a directory of their own, so that they do not overwrite the ws ones).
  cd "$build"
  rest_logs="$build/rest-logs"
  mkdir -p "$rest_logs"
  common+=(-jobs="$jobs" -workers="$jobs")
fi

ws_args=(
  "${common[@]}"
  -max_len=70000            # room for the 64 KiB RFC vector
  -dict="$build/ws.dict"
  -artifact_prefix="$build/"
)
rest_args=(
  "${common[@]}"
  -max_len=8192             # bodies, forms and paths; the deep-nesting seed is 2200 bytes
  -dict="$build/rest.dict"
  -artifact_prefix="$build/rest-"
)

# Both targets run even when the first one finds something, so that one run reports on both.
failed=()
echo "run.sh: fuzzing for ${seconds}s"
"$build/ws_decoder_fuzz" "${ws_args[@]}" "$build/ws-corpus" "$build/ws-seeds" || failed+=(ws_decoder_fuzz)
echo "run.sh: fuzzing rest_input_fuzz for ${seconds}s"
(cd "$rest_logs" && "$build/rest_input_fuzz" "${rest_args[@]}" "$build/rest-corpus" "$build/rest-seeds") ||
  failed+=(rest_input_fuzz)

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run.sh: findings in ${failed[*]} (reproducers in $build/)" >&2
  exit 1
fi
echo "run.sh: no findings"
