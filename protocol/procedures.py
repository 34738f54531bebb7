"""The one table of procedures: every API the agent serves and the host exposes.

Each entry is declared once, in the style of libguestfs's ``generator/actions_core.ml``:
name, libguestfs 1.48 procedure number, required arguments, optional arguments, return
type, a one-line doc and flags. The agent dispatches from it, the host derives its methods
from it, and ``tests/test_procedures.py`` checks every number against the 1.48 list.

Signatures are written as ``"Type name, Type name"`` with libguestfs's type names, so an
entry can be compared with the original by eye.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .types import STRUCTS, Arg, ArgType, OptArg, OptType, RetType, StructDef


@dataclass(frozen=True)
class Procedure:
    """One API of the libguestfs protocol."""

    name: str
    proc_nr: int
    args: tuple[Arg, ...]
    optargs: tuple[OptArg, ...]
    ret: RetType
    doc: str
    #: Name of the struct for RStruct / RStructList.
    ret_struct: str | None = None
    #: Not meant to be called by users directly (a library helper calls it).
    internal: bool = False
    #: The daemon sends progress messages while it runs.
    progress: bool = False
    #: A FileIn/FileOut transfer that either side can cancel.
    cancellable: bool = False
    #: Optional feature group the API belongs to (``available``).
    group: str | None = None
    #: Other methods of the Python bindings that are the same call (``is_file_opts``).
    aliases: tuple[str, ...] = field(default=())

    @property
    def wire_args(self) -> tuple[Arg, ...]:
        """The required arguments that travel in the args struct (no FileIn/FileOut)."""
        return tuple(a for a in self.args if a.type not in (ArgType.FILEIN, ArgType.FILEOUT))

    @property
    def file_in(self) -> bool:
        return any(a.type is ArgType.FILEIN for a in self.args)

    @property
    def file_out(self) -> bool:
        return any(a.type is ArgType.FILEOUT for a in self.args)

    @property
    def has_args_struct(self) -> bool:
        return bool(self.wire_args or self.optargs)

    @property
    def struct(self) -> StructDef | None:
        return STRUCTS[self.ret_struct] if self.ret_struct else None


_ARG_TYPES = {t.value: t for t in ArgType}
_OPT_TYPES = {t.value: t for t in OptType}
_RET_TYPES = {t.value: t for t in RetType}


def _parse_params(spec: str, table: dict[str, ArgType] | dict[str, OptType]) -> list[tuple]:
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        tname, _, pname = part.partition(" ")
        if tname not in table or not pname.isidentifier():
            raise ValueError(f"bad parameter {part!r}")
        out.append((pname, table[tname]))
    return out


def _def(
    name: str, nr: int, args: str, ret: str, doc: str, *, optargs: str = "", **flags: object
) -> Procedure:
    rtype, _, rstruct = ret.partition(" ")
    cancellable = "FileIn" in args or "FileOut" in args
    return Procedure(
        name=name,
        proc_nr=nr,
        args=tuple(Arg(n, t) for n, t in _parse_params(args, _ARG_TYPES)),
        optargs=tuple(OptArg(n, t) for n, t in _parse_params(optargs, _OPT_TYPES)),
        ret=_RET_TYPES[rtype],
        ret_struct=rstruct or None,
        doc=doc,
        cancellable=cancellable,
        progress=bool(flags.pop("progress", cancellable)),
        **flags,  # type: ignore[arg-type]
    )


PROCEDURES: tuple[Procedure, ...] = (
    # -- daemon and internal ------------------------------------------------------------
    _def("ping_daemon", 92, "", "RErr", "test if the daemon is alive and answering"),
    _def(
        "internal_feature_available",
        458,
        "String group",
        "RInt",
        "probe one optional feature group: 0 available, 1 not, 2 unknown group",
        internal=True,
    ),
    _def(
        "internal_autosync",
        282,
        "",
        "RErr",
        "unmount everything and sync the disks before the appliance stops",
        internal=True,
    ),
    # VDebug in libguestfs, not VInternal: the Python bindings expose it.
    _def("internal_exit", 414, "", "RErr", "make the daemon reply, then exit"),
    _def(
        "available_all_groups",
        251,
        "",
        "RStringList",
        "list every optional feature group this daemon knows",
    ),
    # -- tests on paths -----------------------------------------------------------------
    _def("exists", 36, "Pathname path", "RBool", "test if a file or directory exists"),
    _def(
        "is_file",
        37,
        "Pathname path",
        "RBool",
        "test if a regular file",
        optargs="OBool followsymlinks",
        aliases=("is_file_opts",),
    ),
    _def(
        "is_dir",
        38,
        "Pathname path",
        "RBool",
        "test if a directory",
        optargs="OBool followsymlinks",
        aliases=("is_dir_opts",),
    ),
    _def("is_symlink", 270, "Pathname path", "RBool", "test if a symbolic link"),
    # -- creating and removing --------------------------------------------------------
    _def("mkdir", 32, "Pathname path", "RErr", "create a directory"),
    _def("mkdir_p", 33, "Pathname path", "RErr", "create a directory and its parents, as mkdir -p"),
    _def("rmdir", 30, "Pathname path", "RErr", "remove an empty directory"),
    _def("rm", 29, "Pathname path", "RErr", "remove a file (not a directory)"),
    _def("rm_rf", 31, "Pathname path", "RErr", "remove a file or directory recursively"),
    _def("touch", 3, "Pathname path", "RErr", "update a file's timestamps, creating it if needed"),
    _def("chmod", 34, "Int mode, Pathname path", "RErr", "change file mode"),
    _def("chown", 35, "Int owner, Int group, Pathname path", "RErr", "change file owner and group"),
    _def("ln_s", 166, "String target, Pathname linkname", "RErr", "create a symbolic link"),
    _def("readlink", 168, "Pathname path", "RString", "read the target of a symbolic link"),
    _def(
        "realpath",
        163,
        "Pathname path",
        "RString",
        "canonical absolute path with every symlink, . and .. resolved",
    ),
    _def("cp", 87, "Pathname src, Pathname dest", "RErr", "copy a file"),
    _def(
        "cp_a",
        88,
        "Pathname src, Pathname dest",
        "RErr",
        "copy a file or directory recursively, keeping attributes",
    ),
    _def("mv", 89, "Pathname src, Pathname dest", "RErr", "move or rename a file"),
    # -- metadata -----------------------------------------------------------------------
    _def(
        "statns",
        421,
        "Pathname path",
        "RStruct statns",
        "file status with nanosecond timestamps, following symlinks",
    ),
    _def(
        "lstatns",
        422,
        "Pathname path",
        "RStruct statns",
        "file status with nanosecond timestamps, not following a final symlink",
    ),
    _def(
        "readdir",
        138,
        "Pathname dir",
        "RStructList dirent",
        "list a directory with inode numbers and file types, . and .. included",
    ),
    _def(
        "ls0",
        347,
        "Pathname dir, FileOut filenames",
        "RErr",
        "download the names in a directory, each ended by a NUL byte",
    ),
    _def(
        "find0",
        196,
        "Pathname directory, FileOut files",
        "RErr",
        "download every name below a directory, relative, each ended by a NUL byte",
    ),
    _def("ll", 5, "Pathname directory", "RString", "the output of ls -la (for humans)"),
    _def("filesize", 218, "Pathname file", "RInt64", "size of a file in bytes"),
    _def(
        "checksum",
        68,
        "String csumtype, Pathname path",
        "RString",
        "checksum of a file: crc, md5, sha1, sha224, sha256, sha384 or sha512",
    ),
    _def("statvfs", 54, "Pathname path", "RStruct statvfs", "filesystem statistics"),
    _def(
        "du",
        127,
        "Pathname path",
        "RInt64",
        "disk space used by a file or tree, in KiB (du -s)",
        progress=True,
    ),
    # -- contents -----------------------------------------------------------------------
    _def(
        "internal_write",
        246,
        "Pathname path, BufferIn content",
        "RErr",
        "create or replace a file with the given bytes",
        internal=True,
    ),
    _def(
        "internal_write_append",
        290,
        "Pathname path, BufferIn content",
        "RErr",
        "append bytes to a file",
        internal=True,
    ),
    _def(
        "upload",
        66,
        "FileIn filename, Dev_or_Path remotefilename",
        "RErr",
        "copy a local file into the guest",
    ),
    _def(
        "upload_offset",
        273,
        "FileIn filename, Dev_or_Path remotefilename, Int64 offset",
        "RErr",
        "copy a local file into a guest file at an offset",
    ),
    _def(
        "download",
        67,
        "Dev_or_Path remotefilename, FileOut filename",
        "RErr",
        "copy a guest file to a local file",
    ),
    _def(
        "download_offset",
        274,
        "Dev_or_Path remotefilename, FileOut filename, Int64 offset, Int64 size",
        "RErr",
        "copy part of a guest file to a local file",
    ),
    _def(
        "tar_in",
        69,
        "FileIn tarfile, Pathname directory",
        "RErr",
        "unpack a local tar file into a guest directory",
        optargs="OString compress, OBool xattrs, OBool selinux, OBool acls",
        aliases=("tar_in_opts",),
    ),
    _def(
        "tar_out",
        70,
        "String directory, FileOut tarfile",
        "RErr",
        "pack a guest directory into a local tar file",
        optargs="OString compress, OBool numericowner, OStringList excludes, "
        "OBool xattrs, OBool selinux, OBool acls",
        aliases=("tar_out_opts",),
    ),
    # -- block devices: enough to partition, format and mount a disk ----------------------
    _def(
        "list_devices",
        7,
        "",
        "RStringList",
        "list the guest's disks, /dev/sda ..., the appliance disk hidden",
    ),
    _def("list_partitions", 8, "", "RStringList", "list the partitions of every disk"),
    _def("blockdev_getsize64", 63, "Device device", "RInt64", "size of a device in bytes"),
    _def(
        "part_disk",
        210,
        "Device device, String parttype",
        "RErr",
        "make one partition covering the whole disk (mbr/msdos or gpt)",
    ),
    _def(
        "part_list",
        213,
        "Device device",
        "RStructList partition",
        "list the partitions of a disk with their start, end and size in bytes",
    ),
    _def(
        "mkfs",
        278,
        "String fstype, Device device",
        "RErr",
        "make a filesystem",
        optargs="OInt blocksize, OString features, OInt inode, OInt sectorsize, OString label",
        aliases=("mkfs_opts",),
    ),
    _def(
        "vfs_type", 198, "Mountable mountable", "RString", "the filesystem type on a device (blkid)"
    ),
    _def(
        "mount",
        1,
        "Mountable mountable, String mountpoint",
        "RErr",
        "mount a guest filesystem at a path of the sysroot",
    ),
    _def(
        "mount_ro",
        73,
        "Mountable mountable, String mountpoint",
        "RErr",
        "mount a guest filesystem read-only",
    ),
    _def(
        "mount_options",
        74,
        "String options, Mountable mountable, String mountpoint",
        "RErr",
        "mount with options",
    ),
    _def(
        "mount_vfs",
        75,
        "String options, String vfstype, Mountable mountable, String mountpoint",
        "RErr",
        "mount with options and an explicit filesystem type",
    ),
    _def(
        "umount",
        45,
        "Dev_or_Path pathordevice",
        "RErr",
        "unmount a filesystem",
        optargs="OBool force, OBool lazyunmount",
        aliases=("umount_opts",),
    ),
    _def("umount_all", 47, "", "RErr", "unmount every filesystem under the sysroot"),
    _def("mounts", 46, "", "RStringList", "the devices mounted under the sysroot"),
    _def("mountpoints", 147, "", "RHashtable", "device to mountpoint of each mount"),
    _def("sync", 2, "", "RErr", "flush every write to the disks"),
)

BY_NAME: dict[str, Procedure] = {p.name: p for p in PROCEDURES}
BY_NUMBER: dict[int, Procedure] = {p.proc_nr: p for p in PROCEDURES}


def procedures() -> Iterator[Procedure]:
    """Every procedure of the table, in declaration order."""
    return iter(PROCEDURES)
