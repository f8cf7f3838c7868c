#!/bin/sh
# Builds the guest kernel that test/vm/guest-suite-iommufd.test.ts boots: Linux
# 6.12 from Debian's linux-source-6.12 (bookworm-security) on top of
# x86_64_defconfig, with iommufd, the vfio cdev, the legacy container,
# vfio-pci, intel-iommu, nvme and 9p built in and no modules. Needs root for
# apt-get (or the packages already installed); takes ~15 min on 2 CPUs.
#
#   sh vm/build-iommufd-kernel.sh [OUTDIR]    (default: ../shared/kernels next to the checkout)
#
# Then the harness finds OUTDIR/bzImage-<version>-iommufd (or point
# VFIO_TS_VM_IOMMUFD_KERNEL at it).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/../shared/kernels}
work=${VFIO_TS_KERNEL_BUILD_DIR:-/tmp/vfio-ts-kernel-build}

if [ ! -f /usr/src/linux-source-6.12.tar.xz ]; then
	apt-get update
	apt-get install -y --no-install-recommends linux-source-6.12 \
		build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils
fi

mkdir -p "$work" "$out"
cd "$work"
[ -d linux-source-6.12 ] || tar xf /usr/src/linux-source-6.12.tar.xz
cd linux-source-6.12
make x86_64_defconfig

c() { scripts/config "$@"; }
# What the guest needs: PCI with MSI and hotplug (native and ACPI), virtio-pci
# for the 9p shares and console, the serial console, devtmpfs and initramfs.
c -e PCI -e PCI_MSI -e PCIEPORTBUS -e HOTPLUG_PCI -e HOTPLUG_PCI_PCIE -e HOTPLUG_PCI_ACPI -d PCI_IOV
c -e VIRTIO_MENU -e VIRTIO -e VIRTIO_PCI -e VIRTIO_CONSOLE -e SERIAL_8250 -e SERIAL_8250_CONSOLE
c -e DEVTMPFS -e DEVTMPFS_MOUNT -e BLK_DEV_INITRD -e RD_GZIP -e TMPFS -e PROC_FS -e SYSFS -e SHMEM
c -e UNIX -e EVENTFD -e MEMFD_CREATE -e NET -e PM -e UNIX98_PTYS -e PVH
# As Debian: a BAR claimed by a driver revokes its sysfs mappings (the broker's --mmap relies on it).
c -e DEVMEM -e STRICT_DEVMEM -e IO_STRICT_DEVMEM
c -e NETWORK_FILESYSTEMS -e NET_9P -e NET_9P_VIRTIO -e 9P_FS
# The emulated VT-d, on by default, with interrupt remapping (vfio's MSI needs it).
c -e IOMMU_SUPPORT -e INTEL_IOMMU -e IRQ_REMAP -e INTEL_IOMMU_DEFAULT_ON
c -d INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF -d INTEL_IOMMU_DEFAULT_OFF
# Both VFIO flows: iommufd with the device cdev, and the group/container one.
c -e IOMMUFD -e VFIO -e VFIO_GROUP -e VFIO_CONTAINER -e VFIO_IOMMU_TYPE1 -e VFIO_DEVICE_CDEV
c -e VFIO_PCI_CORE -e VFIO_PCI -e VFIO_PCI_MMAP -e VFIO_PCI_INTX -e DMA_SHARED_BUFFER
c -e BLK_DEV_NVME -e NVME_CORE
# Everything in the image: the initramfs loads nothing.
c -d MODULES -d LOCALVERSION_AUTO --set-str LOCALVERSION -iommufd
# Off, for build time and size.
c -d DRM -d FB -d SOUND -d SND -d WLAN -d WIRELESS -d CFG80211 -d MAC80211 -d RFKILL -d USB_SUPPORT -d HID
c -d NETDEVICES -d ETHERNET -d WAN -d ATA -d SCSI -d MD -d BLK_DEV_DM -d AGP -d NETFILTER -d IPV6 -d BT
c -d NFS_FS -d ROOT_NFS -d CIFS -d SMB_SERVER -d CEPH_FS -d AFS_FS -d CODA_FS -d EXT4_FS -d QUOTA -d AUTOFS_FS
c -d ISO9660_FS -d MSDOS_FS -d VFAT_FS -d WATCHDOG -d PCCARD -d SECURITY_SELINUX -d AUDIT
c -d DEBUG_INFO -d DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT -d DEBUG_INFO_DWARF4 -d DEBUG_INFO_DWARF5 -e DEBUG_INFO_NONE
c -d KPROBES -d FTRACE -d PROFILING
make olddefconfig

for s in IOMMUFD VFIO_DEVICE_CDEV VFIO_CONTAINER VFIO_PCI INTEL_IOMMU BLK_DEV_NVME 9P_FS PVH IO_STRICT_DEVMEM; do
	v=$(scripts/config -s "$s")
	[ "$v" = y ] || { echo "CONFIG_$s is '$v', not y" >&2; exit 1; }
done

nice -n 19 make -j"$(nproc)" bzImage
version=$(make -s kernelrelease)
cp arch/x86/boot/bzImage "$out/bzImage-$version"
cp .config "$out/config-$version"
echo "built $out/bzImage-$version"
