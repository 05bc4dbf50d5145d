#!/bin/bash
# Stage 2, PID 1 of a lab guest, on the host's root (read-only 9p, tmpfs where
# writes are needed): mounts, the NIC eth1 with the lab's addresses, the exec agent.
# Kernel parameters: kvmring.guest=N kvmring.repo=DIR kvmring.init=THIS
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

arg() { sed -n "s/.*\bkvmring\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
n=$(arg guest)
repo=$(arg repo)
log() { echo "kvmring-lab: $*" > /dev/kmsg; }

hostname "g$n"
# Devices the lab keeps from every driver (kvmring.nodriver=BDF,...: lab up
# --probe-bars), before any module loads: ringnet probes every ivshmem device, and
# a test may write anything into these (--foreign-bars' are left to ringnet).
for bdf in $(arg nodriver | tr , ' '); do
	echo kvmring-nodriver > "/sys/bus/pci/devices/$bdf/driver_override" \
		|| log "cannot keep $bdf from drivers"
done
ip link set lo up
# Modules of the standard kernel; the debug kernel has them built in (and no /lib/modules).
if [ -d "/lib/modules/$(uname -r)" ]; then
	modprobe virtio_net
	modprobe virtio_console
fi

# eth1 is the virtio NIC whose MAC the lab gave this guest (52:54:00:00:02:NN).
mac=$(printf '52:54:00:00:02:%02x' "$n")
for dev in /sys/class/net/*; do
	if [ "$(cat "$dev/address")" = "$mac" ]; then
		ip link set dev "${dev##*/}" name eth1
	fi
done
sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
ip addr add "192.0.2.$n/24" dev eth1
ip -6 addr add "2001:db8:1::$n/64" dev eth1 nodad
ip link set eth1 up

# Hold the kernel's receive-timestamp key on for the guest's life: a ping sets
# SO_TIMESTAMP, and the first such socket to open or the last to close switches
# netstamp_needed_key, which rewrites a jump label inside
# netif_receive_skb_list_internal() with int3 text patching. Once, under TCG with
# 2 vCPUs, a guest hung for good there (soft lockup, RIP
# netif_receive_skb_list_internal+0x58, which is that jump label's site, with
# nothing from the list checks of CONFIG_DEBUG_LIST), while the tests started and
# ended pings: most likely TCG running a stale int3 after the patch. With this
# socket open, later pings only move the key's count and the code is not rewritten.
ping -q -i 3600 127.0.0.1 >/dev/null 2>&1 &

# The agent runs the lab's commands; restart it if it ever exits.
(
	while :; do
		node "$repo/scripts/guest/agent.mjs" || log "agent exited with $?"
		sleep 1
	done
) &
log "guest g$n up"

# As PID 1, reap whatever is orphaned to us, forever.
while :; do
	wait
	sleep 1
done
