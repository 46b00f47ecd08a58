#!/bin/sh
# syslog.t - syslog parser against t/data/syslog-vectors.txt (TAP from C).
# Needs AUTHSINK_BUILD (set by `make check`); defaults to ./build.
dir=$(dirname "$0")
bin=${AUTHSINK_BUILD:-$PWD/build}/t/test-syslog
if [ ! -x "$bin" ]; then
	echo "Bail out! $bin not built (run make)"
	exit 1
fi
exec "$bin" "$dir/data/syslog-vectors.txt"
