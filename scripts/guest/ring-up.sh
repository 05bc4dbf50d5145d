#!/bin/bash
# Loads ringnet.ko from this repository and gives ring0 the lab's addresses
# (198.51.100.N/24, 2001:db8:2::N/64). Run inside a lab guest; N from its
# kernel command line. Idempotent: an already loaded module is kept.
# Which ringnet.ko: $RINGNET_KO, else kvmring.ringnet= on the kernel command line
# (the debug kernel's is build/debug/ringnet.ko), else guest-netdev/ringnet.ko;
# relative paths are under the repository.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
n=$(sed -n 's/.*\bkvmring\.guest=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$n" ] || { echo "ring-up: not in a lab guest (no kvmring.guest=)" >&2; exit 2; }
ko=${RINGNET_KO:-$(sed -n 's/.*\bkvmring\.ringnet=\([^ ]*\).*/\1/p' /proc/cmdline)}
ko=${ko:-guest-netdev/ringnet.ko}
case $ko in /*) ;; *) ko=$repo/$ko ;; esac
if ! [ -e /sys/class/net/ring0 ]; then
	insmod "$ko" "$@"
fi
[ -e /sys/class/net/ring0 ] || { echo "ring-up: ringnet loaded but no ring0 (see dmesg)" >&2; exit 1; }
ip addr replace "198.51.100.$n/24" dev ring0
ip -6 addr replace "2001:db8:2::$n/64" dev ring0 nodad
ip link set ring0 up
