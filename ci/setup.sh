#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine (or refresh an existing checkout) for pyguestfs:
# the Debian packages the builder, the boot tests and the reference comparisons use,
# and a virtualenv at .venv holding the project with its test and build extras.
# Idempotent: a second run installs nothing and takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev binutils      # the venv, and PyInstaller's objdump/ldd
  qemu-system-x86 linux-image-amd64 e2fsprogs     # boot: qemu, the host kernel, mke2fs
  qemu-utils                                      # qemu-img: warm-launch snapshot overlays
  parted dash util-linux mount tar gzip bzip2 xz-utils zstd  # tools copied into the appliance
  cpio xz-utils zstd lz4                          # inspecting initrds and kernel payloads
  libguestfs-tools python3-guestfs supermin       # the reference: real libguestfs 1.48
  kmod lvm2 gdisk zerofree dosfstools xfsprogs btrfs-progs ntfs-3g  # appliance API tools
  grep sed bsdextrautils file                     # appliance: grep family, hexdump, file
  policycoreutils                                 # appliance: setfiles (selinux_relabel)
  systemd-journal-remote                          # tests: real journal files from export format
  rpm                                             # tests: rpmbuild and rpm make an RPM database
  libaugeas0 augeas-lenses libhivex0              # appliance: aug_*, hivex_*, Windows inspection
  libwin-hivex-perl                               # hivexregedit: the tests' Windows registry hives
  cryptsetup-bin mdadm ldmtool                    # appliance: LUKS, md RAID, Windows LDM
  scrub squashfs-tools f2fs-tools syslinux extlinux  # appliance: 1.48's groups
  libyara9 libtsk19 sleuthkit                     # appliance: YARA, libtsk (ctypes), icat/blkls
  yara                                            # yarac: the tests' compiled YARA rules
  libyara-dev libtsk-dev                          # tests: ctypes offsets checked against headers
  debootstrap                                     # a real Debian guest for inspection tests
  docker.io docker-registry                       # appliance images: a real engine and registry
  libvirt-dev pkg-config gcc                      # pip builds libvirt-python (add_domain) on them
  python3-libvirt                                 # the reference: python3-guestfs add_domain
  fuse3 libfuse3-dev                              # mount_local/pyguestmount: pyfuse3 builds on
                                                  # libfuse3; fusermount3 unmounts
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's own python3 (not a pyenv build): PyInstaller needs its shared libpython.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
fi
stamp=.venv/.pyguestfs-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test,build,cache,libvirt,fuse,fleet]'
  touch "$stamp"
fi
