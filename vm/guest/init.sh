#!/bin/sh
# vfio-ts guest /init (busybox ash), packed into the initramfs by vm/initramfs.ts.
#
# 1. mounts proc/sys/dev, loads the modules listed in /lib/modules/load.list
#    (dependency order, resolved on the host from modules.dep);
# 2. mounts the per-run job share (tag "job", read-write) and sources guest.env,
#    written by the host for this run (vm/harness.ts);
# 3. unbinds the devices named in VM_BIND_IDS from any driver and binds them to
#    vfio-pci through new_id, then gives their /dev/vfio/<group> files to the
#    unprivileged user, and on a kernel with the vfio cdev (6.6+, the iommufd
#    kernel) their /dev/vfio/devices/vfioN files and /dev/iommu too;
# 4. mounts the host root (tag "host", read-only) at /host with fresh proc, sys,
#    dev and a tmpfs /tmp (the host's /tmp/<name> for each name in VM_TMP_KEEP
#    bound back over it), the job share at /host/tmp/vfio-ts-vm;
# 5. raises RLIMIT_MEMLOCK and runs job.sh (written by the host) with the host's
#    /bin/sh in the chroot, with an empty environment; job.sh sets the command's
#    environment and directory and execs it, through the host's setpriv(1) as
#    VM_UID/VM_GID unless the run is as root. stdout/stderr go to files in the
#    job share, the exit status to job/status; then it powers off.
# Progress lines start with "vfio-ts-vm: " on the console (ttyS0); the host
# times the boot by the "vfio-ts-vm: run" line.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# 9p message size: the most the 6.1 virtio transport takes (125 pages, 512000 bytes).
MSIZE=512000
say() { echo "vfio-ts-vm: $*"; }
die() {
	echo "vfio-ts-vm: FAIL: $*"
	[ -d /job ] && [ -w /job ] && echo "$*" > /job/guest-error 2>/dev/null
	poweroff -f
	sleep 10
	exit 1
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t devpts devpts /dev/pts
say "init"

while read -r m args; do
	[ -n "$m" ] || continue
	# shellcheck disable=SC2086 # args are module parameters, split on purpose
	insmod "/lib/modules/$m" $args || die "insmod $m"
done < /lib/modules/load.list
say "modules loaded"

# The job share: configuration in, results out.
mkdir -p /job
n=0
until mount -t 9p -o trans=virtio,version=9p2000.L,msize=$MSIZE,cache=none job /job 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 50 ] || die "cannot mount the job share (9p tag job)"
	sleep 0.1
done
[ -r /job/guest.env ] || die "no guest.env in the job share"
. /job/guest.env

if [ -n "$VM_TIMEOUT_S" ]; then
	( sleep "$VM_TIMEOUT_S"; echo "vfio-ts-vm: guest watchdog: ${VM_TIMEOUT_S}s passed, powering off"; poweroff -f ) &
fi

# Devices for vfio-pci.
for id in $VM_BIND_IDS; do
	ven=${id%:*}
	dev=${id#*:}
	found=0
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = "0x$ven" ] && [ "$(cat "$d/device")" = "0x$dev" ] || continue
		found=1
		if [ -e "$d/driver" ]; then
			echo "${d##*/}" > "$d/driver/unbind" || die "unbind ${d##*/}"
		fi
	done
	[ $found = 1 ] || die "no PCI device $id"
	echo "$ven $dev" > /sys/bus/pci/drivers/vfio-pci/new_id || die "vfio-pci new_id $id"
done
for id in $VM_BIND_IDS; do
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = "0x${id%:*}" ] && [ "$(cat "$d/device")" = "0x${id#*:}" ] || continue
		drv=$(readlink "$d/driver")
		[ "${drv##*/}" = vfio-pci ] || die "${d##*/} ($id) is bound to '${drv##*/}', not vfio-pci"
		[ -e "$d/iommu_group" ] || die "${d##*/} ($id) has no IOMMU group (is intel_iommu=on working?)"
		g=$(readlink "$d/iommu_group")
		g=${g##*/}
		n=0
		until [ -c "/dev/vfio/$g" ]; do
			n=$((n + 1))
			[ $n -lt 50 ] || die "no /dev/vfio/$g for ${d##*/}"
			sleep 0.1
		done
		chown "$VM_UID:$VM_GID" "/dev/vfio/$g" || die "chown /dev/vfio/$g"
		cdev=
		# 6.1 lists vfio-dev/vfioN too; only a kernel with the cdev gives it a dev number.
		if [ -e "$d"/vfio-dev/vfio*/dev ]; then
			cdev=$(ls "$d/vfio-dev")
			n=0
			until [ -c "/dev/vfio/devices/$cdev" ]; do
				n=$((n + 1))
				[ $n -lt 50 ] || die "no /dev/vfio/devices/$cdev for ${d##*/}"
				sleep 0.1
			done
			chown "$VM_UID:$VM_GID" "/dev/vfio/devices/$cdev" || die "chown /dev/vfio/devices/$cdev"
		fi
		say "bound ${d##*/} $id group $g${cdev:+ cdev $cdev}"
	done
done
if [ -c /dev/iommu ]; then
	chown "$VM_UID:$VM_GID" /dev/iommu || die "chown /dev/iommu"
fi

# The chroot: the host's root, read-only, with fresh kernel filesystems.
mkdir -p /host
mount -t 9p -o "trans=virtio,version=9p2000.L,ro,msize=$MSIZE,cache=$VM_HOST_CACHE" host /host || die "cannot mount the host root (9p tag host)"
mount -t proc proc /host/proc || die "mount /host/proc"
mount -t sysfs sysfs /host/sys || die "mount /host/sys"
mount -o rbind /dev /host/dev || die "mount /host/dev"
# The guest's /tmp is a fresh tmpfs; host directories under /tmp that the run
# needs (its working directory, say) are bound back over it, read-only.
if [ -n "$VM_TMP_KEEP" ]; then
	mkdir -p /hosttmp
	mount -o bind /host/tmp /hosttmp || die "bind the host's /tmp"
fi
mount -t tmpfs -o mode=1777 tmpfs /host/tmp || die "mount /host/tmp"
for k in $VM_TMP_KEEP; do
	mkdir -p "/host/tmp/$k"
	mount -o bind "/hosttmp/$k" "/host/tmp/$k" || die "bind /tmp/$k"
done
mkdir -p /host/tmp/vfio-ts-vm
mount -o bind /job /host/tmp/vfio-ts-vm || die "bind the job share"

ulimit -l "$VM_MEMLOCK" || die "ulimit -l $VM_MEMLOCK"
say "run"
env -i chroot /host /bin/sh /tmp/vfio-ts-vm/job.sh < /dev/null > /job/stdout 2> /job/stderr
rc=$?
echo "$rc" > /job/status
say "exit $rc"
poweroff -f
