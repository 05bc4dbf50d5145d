#!/bin/busybox sh
# Stage 1, /init of the lab's busybox initramfs: load the 9p stack, mount the host's
# root read-only, lay tmpfs where a guest must write, and hand over to stage 2
# (scripts/guest/init.sh) on that root.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

arg() { sed -n "s/.*\bkvmring\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }

if grep -q 'kvmring\.probe' /proc/cmdline; then
	echo "KVMRING-PROBE-OK"
	poweroff -f
fi

fail() {
	echo "kvmring-lab: $*" >&2
	echo "kvmring-lab: stage 1 failed" >&2
	poweroff -f
}

# Empty for the debug kernel, which has these built in.
while read -r m; do
	[ -n "$m" ] || continue
	insmod "/lib/modules/$m" || fail "insmod $m failed"
done < /modules.order

mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=mmap hostroot /newroot \
	|| fail "cannot mount the host root over 9p (is -virtfs mount_tag=hostroot there?)"
# A repository under one of the tmpfs folders (a clone in /root or /tmp) stays
# visible: held by a bind mount here, then moved back over the tmpfs.
repo=$(arg repo)
[ -n "$repo" ] && [ -d "/newroot$repo" ] || fail "the repository ${repo:-(no kvmring.repo=)} is not on the host's root"
mkdir -p /repo
mount --bind "/newroot$repo" /repo || fail "bind mount of $repo"
for d in tmp run var/tmp var/log root mnt; do
	mount -t tmpfs -o mode=0755 tmpfs "/newroot/$d" || fail "tmpfs on /$d"
done
chmod 1777 /newroot/tmp /newroot/var/tmp
if [ -d "/newroot$repo" ]; then
	umount /repo
else
	mkdir -p "/newroot$repo" && mount --move /repo "/newroot$repo" || fail "cannot show $repo under its tmpfs"
fi
init=$(arg init)
[ -n "$init" ] || fail "no kvmring.init= on the kernel command line"
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /bin/bash "$init"
