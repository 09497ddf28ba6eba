#!/bin/sh
# Sets shoal up on a Debian machine: installs the build dependencies that
# are missing (apt-get, as root or through sudo), configures ./build with
# meson if it is not configured yet, and builds it.  Safe to run again.
# Extra meson options for a first configure: SHOAL_MESON_ARGS="-Dwerror=true".
set -eu
cd "$(dirname "$0")/.."

missing=""
for pkg in gcc meson ninja-build pkg-config python3 libjemalloc-dev \
	   liburcu-dev libcriterion-dev; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
		grep -q 'install ok installed' || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "bootstrap: installing$missing" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

if [ ! -f build/build.ninja ]; then
	# shellcheck disable=SC2086
	meson setup build ${SHOAL_MESON_ARGS:-} >/dev/null
fi
ninja -C build --quiet
echo "bootstrap: built ./build" >&2
