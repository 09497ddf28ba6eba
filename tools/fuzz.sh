#!/bin/sh
# The libFuzzer harnesses of fuzz/, each for a bounded time.
#
#   tools/fuzz.sh [SECONDS]     configure ./build-fuzz (clang, ASan +
#                               UBSan, -Dfuzz=true) if needed, build, run
#                               every harness for SECONDS (default 60)
#
# Each harness starts from its committed seed corpus (fuzz/corpus/<name>,
# copied: the run never changes the tree) and stops at the first crash,
# leak or input slower than 10 s (a hang), leaving the input that did it
# in build-fuzz/ (crash-*, timeout-*).  Needs clang and its libFuzzer
# runtime (Debian: clang, libclang-rt-14-dev; .ci/run installs them).
#
# Exit status: non-zero when the build fails or any harness found
# something.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz: clang is missing (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
status=0
for src in fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	ninja -C build-fuzz --quiet "fuzz/$name"
	work=build-fuzz/corpus-$name
	rm -rf "$work" && mkdir -p "$work"
	[ -d "fuzz/corpus/$name" ] && cp "fuzz/corpus/$name"/* "$work"/ 2>/dev/null || true
	if (cd build-fuzz && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"fuzz/$name" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		"corpus-$name" >"fuzz-$name.log" 2>&1); then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/fuzz-$name.log")
		echo "fuzz $name: ${runs:-?} runs in ${secs} s, nothing found"
	else
		echo "fuzz $name: FOUND something (build-fuzz/fuzz-$name.log):" >&2
		tail -n 30 "build-fuzz/fuzz-$name.log" >&2
		status=1
	fi
done
exit "$status"
