#!/bin/sh
# Line and branch coverage of each layer (base/, store/, ring/, runtime/) by the test suite.
#
#   tools/coverage.sh            configure ./build-cov if needed, build, run
#                                every test there, print the figures
#
# A build of its own (meson's b_coverage) in ./build-cov; the counters of
# an earlier run are cleared first, so the figures are this run's.  The
# processes shoal starts leave with _exit(), which skips the exit-time
# writing of coverage counters: tests/gcov_exit.c is preloaded into every
# test process to write them first (a process killed by SIGKILL still
# writes nothing).  Needs gcovr (Debian package `gcovr`; .ci/run installs
# it).
#
# Exit status: non-zero when the build or a test fails, or gcovr fails
# (a broken coverage build); a low figure is only printed.  The figures
# are printed even when a test failed (they count what ran).
set -eu
cd "$(dirname "$0")/.."

if ! command -v gcovr >/dev/null 2>&1; then
	echo "coverage: gcovr is missing (apt-get install gcovr)" >&2
	exit 1
fi
# Counters updated atomically: threads of one process (the stress
# programs, the actors' threads) otherwise lose increments, and gcov then
# reads a branch as taken -1 times, which gcovr refuses ("Unrecognized
# GCOV output", seen once in CI on ring/lane.c).
if [ ! -f build-cov/build.ninja ]; then
	meson setup build-cov -Db_coverage=true -Dc_args=-fprofile-update=atomic \
		${SHOAL_MESON_ARGS:-} >/dev/null
fi
ninja -C build-cov --quiet
${CC:-cc} -O2 -Wall -Wextra -Werror -shared -fPIC -o build-cov/gcov_exit.so \
	tests/gcov_exit.c
find build-cov -name '*.gcda' -delete

status=0
LD_PRELOAD="$PWD/build-cov/gcov_exit.so" \
	meson test -C build-cov --no-rebuild --print-errorlogs >build-cov/coverage-tests.log 2>&1 ||
	status=$?
tail -n 9 build-cov/coverage-tests.log
if [ "$status" -ne 0 ]; then
	echo "coverage: some tests failed in build-cov (build-cov/coverage-tests.log);" \
		"the figures below count what ran" >&2
fi

# One summary per directory: "lines: P% (a out of b)", "branches: ...".
for dir in base store ring runtime; do
	# The report goes to a file of the build directory: gcovr replaces
	# its output file, and --output /dev/null made /dev/null a regular
	# file for every later command on the machine.
	out=$(gcovr --root . --filter "$dir/" --print-summary \
		--output "build-cov/coverage-$dir.txt" build-cov) || {
		echo "coverage: gcovr failed for $dir/" >&2
		exit 1
	}
	lines=$(printf '%s\n' "$out" | sed -n 's/^lines: //p')
	branches=$(printf '%s\n' "$out" | sed -n 's/^branches: //p')
	[ -n "$lines" ] && [ -n "$branches" ] || {
		echo "coverage: no figures from gcovr for $dir/" >&2
		exit 1
	}
	printf 'coverage %-8s lines %s  branches %s\n' "$dir/" "$lines" "$branches"
done
exit "$status"
