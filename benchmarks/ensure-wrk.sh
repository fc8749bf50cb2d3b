#!/bin/sh
# wrk from Debian for `make bench`: installed when missing if we are root with
# apt-get; otherwise the suite falls back to its bounded Python load generator.
command -v wrk >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y wrk >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; }
fi
command -v wrk >/dev/null 2>&1 ||
    echo "wrk is not installed: the Python load generator is used instead."
exit 0
