"""More file operations: reading parts of files, searching, xattrs, links, special files.

Numbers, argument names and types are libguestfs 1.48's (``generator/actions_core.ml`` and
``actions_core_deprecated.ml``); the deprecated grep variants are the same call as ``grep``
with fixed flags, as in guestfsd.
"""

from __future__ import annotations

from .tabledef import Procedure
from .tabledef import define as _def


def _grep_variant(name: str, nr: int, pattern_arg: str, what: str) -> Procedure:
    """One of the deprecated fixed-flag grep calls (egrep, zfgrepi, ...)."""
    return _def(
        name,
        nr,
        f"String {pattern_arg}, Pathname path",
        "RStringList",
        f"lines of a file matching a pattern ({what}); deprecated by grep",
    )


PROCEDURES: tuple[Procedure, ...] = (
    # -- reading parts of a file ---------------------------------------------------------
    _def("head", 121, "Pathname path", "RStringList", "the first 10 lines of a file"),
    _def(
        "head_n",
        122,
        "Int nrlines, Pathname path",
        "RStringList",
        "the first N lines of a file; negative N: all but the last -N lines",
    ),
    _def("tail", 123, "Pathname path", "RStringList", "the last 10 lines of a file"),
    _def(
        "tail_n",
        124,
        "Int nrlines, Pathname path",
        "RStringList",
        "the last N lines of a file; negative N: from line -N to the end",
    ),
    _def(
        "pread",
        207,
        "Pathname path, Int count, Int64 offset",
        "RBufferOut",
        "read up to count bytes of a file at an offset",
    ),
    _def(
        "pwrite",
        247,
        "Pathname path, BufferIn content, Int64 offset",
        "RInt",
        "write bytes into an existing file at an offset; returns the bytes written",
    ),
    _def(
        "pread_device",
        276,
        "Device device, Int count, Int64 offset",
        "RBufferOut",
        "read up to count bytes of a device at an offset",
    ),
    _def(
        "pwrite_device",
        275,
        "Device device, BufferIn content, Int64 offset",
        "RInt",
        "write bytes to a device at an offset; returns the bytes written",
    ),
    # -- counting, searching, dumping --------------------------------------------------------
    _def("wc_l", 118, "Pathname path", "RInt", "count the lines of a file (wc -l)"),
    _def("wc_w", 119, "Pathname path", "RInt", "count the words of a file (wc -w)"),
    _def("wc_c", 120, "Pathname path", "RInt", "count the bytes of a file (wc -c)"),
    _def(
        "grep",
        151,
        "String regex, Pathname path",
        "RStringList",
        "lines of a file matching a regular expression",
        optargs="OBool extended, OBool fixed, OBool insensitive, OBool compressed",
        aliases=("grep_opts",),
    ),
    _grep_variant("egrep", 152, "regex", "grep -E"),
    _grep_variant("fgrep", 153, "pattern", "grep -F"),
    _grep_variant("grepi", 154, "regex", "grep -i"),
    _grep_variant("egrepi", 155, "regex", "grep -E -i"),
    _grep_variant("fgrepi", 156, "pattern", "grep -F -i"),
    _grep_variant("zgrep", 157, "regex", "zgrep"),
    _grep_variant("zegrep", 158, "regex", "zgrep -E"),
    _grep_variant("zfgrep", 159, "pattern", "zgrep -F"),
    _grep_variant("zgrepi", 160, "regex", "zgrep -i"),
    _grep_variant("zegrepi", 161, "regex", "zgrep -E -i"),
    _grep_variant("zfgrepi", 162, "pattern", "zgrep -F -i"),
    _def(
        "strings",
        94,
        "Pathname path",
        "RStringList",
        "the printable strings of 4 or more characters in a file (strings -a)",
    ),
    _def(
        "strings_e",
        95,
        "String encoding, Pathname path",
        "RStringList",
        "the printable strings in a file in an encoding: s S b l B L (strings -a -e)",
    ),
    _def(
        "file",
        49,
        "Dev_or_Path path",
        "RString",
        "the type of a file: file -zSb for a regular file or device, else its kind",
    ),
    _def("hexdump", 96, "Pathname path", "RString", "a file in hexadecimal (hexdump -C)"),
    _def(
        "glob_expand",
        113,
        "Pathname pattern",
        "RStringList",
        "the paths a glob pattern matches (braces expanded, directories with a slash)",
        optargs="OBool directoryslash",
        aliases=("glob_expand_opts",),
    ),
    # -- temporary names and the umask ---------------------------------------------------
    _def(
        "mkdtemp",
        117,
        "Pathname tmpl",
        "RString",
        "create a directory with a unique name from a template ending in XXXXXX",
    ),
    _def(
        "mktemp",
        373,
        "Pathname tmpl",
        "RString",
        "create a file with a unique name from a template ending in XXXXXX",
        optargs="OString suffix",
    ),
    _def("umask", 137, "Int mask", "RInt", "set the daemon's umask; returns the old one"),
    _def("get_umask", 240, "", "RInt", "the daemon's current umask"),
    # -- special files -----------------------------------------------------------------
    _def(
        "mknod",
        133,
        "Int mode, Int devmajor, Int devminor, Pathname path",
        "RErr",
        "make a block or character device or a FIFO; mode carries the file type",
        group="mknod",
    ),
    _def("mkfifo", 134, "Int mode, Pathname path", "RErr", "make a FIFO", group="mknod"),
    _def(
        "mknod_b",
        135,
        "Int mode, Int devmajor, Int devminor, Pathname path",
        "RErr",
        "make a block device node",
        group="mknod",
    ),
    _def(
        "mknod_c",
        136,
        "Int mode, Int devmajor, Int devminor, Pathname path",
        "RErr",
        "make a character device node",
        group="mknod",
    ),
    # -- links ---------------------------------------------------------------------------
    _def("ln", 164, "String target, Pathname linkname", "RErr", "create a hard link"),
    _def(
        "ln_f",
        165,
        "String target, Pathname linkname",
        "RErr",
        "create a hard link, replacing the link name if it exists",
    ),
    _def(
        "ln_sf",
        167,
        "String target, Pathname linkname",
        "RErr",
        "create a symbolic link, replacing the link name if it exists (ln -sf)",
    ),
    # -- sizes, times, owners ------------------------------------------------------------
    _def("truncate", 199, "Pathname path", "RErr", "truncate an existing file to zero bytes"),
    _def(
        "truncate_size",
        200,
        "Pathname path, Int64 size",
        "RErr",
        "truncate or extend an existing file to a size",
    ),
    _def(
        "fallocate",
        169,
        "Pathname path, Int len",
        "RErr",
        "create or replace a file with len preallocated zero bytes; deprecated",
    ),
    _def(
        "fallocate64",
        252,
        "Pathname path, Int64 len",
        "RErr",
        "create or replace a file with len preallocated zero bytes",
    ),
    _def(
        "utimens",
        201,
        "Pathname path, Int64 atsecs, Int64 atnsecs, Int64 mtsecs, Int64 mtnsecs",
        "RErr",
        "set access and modification times (nsecs -1: now, -2: unchanged); no symlink followed",
    ),
    _def(
        "lchown",
        203,
        "Int owner, Int group, Pathname path",
        "RErr",
        "change owner and group, not following a final symlink",
    ),
    # -- extended attributes -------------------------------------------------------------
    _def(
        "getxattrs",
        141,
        "Pathname path",
        "RStructList xattr",
        "every extended attribute of a file, following symlinks",
        group="linuxxattrs",
    ),
    _def(
        "lgetxattrs",
        142,
        "Pathname path",
        "RStructList xattr",
        "every extended attribute of a file, not following a final symlink",
        group="linuxxattrs",
    ),
    _def(
        "setxattr",
        143,
        "String xattr, String val, Int vallen, Pathname path",
        "RErr",
        "set an extended attribute to the first vallen bytes of val",
        group="linuxxattrs",
    ),
    _def(
        "lsetxattr",
        144,
        "String xattr, String val, Int vallen, Pathname path",
        "RErr",
        "set an extended attribute, not following a final symlink",
        group="linuxxattrs",
    ),
    _def(
        "removexattr",
        145,
        "String xattr, Pathname path",
        "RErr",
        "remove an extended attribute",
        group="linuxxattrs",
    ),
    _def(
        "lremovexattr",
        146,
        "String xattr, Pathname path",
        "RErr",
        "remove an extended attribute, not following a final symlink",
        group="linuxxattrs",
    ),
    _def(
        "getxattr",
        279,
        "Pathname path, String name",
        "RBufferOut",
        "the value of one extended attribute, following symlinks",
        group="linuxxattrs",
    ),
    _def(
        "lgetxattr",
        280,
        "Pathname path, String name",
        "RBufferOut",
        "the value of one extended attribute, not following a final symlink",
        group="linuxxattrs",
    ),
    # -- batches for the library's lstatnslist, lxattrlist and readlinklist ----------------
    _def(
        "internal_lstatnslist",
        423,
        "Pathname path, StringList names",
        "RStructList statns",
        "lstat each name in a directory; st_ino -1 for a name that cannot be lstat'd",
        internal=True,
    ),
    _def(
        "internal_lxattrlist",
        205,
        "Pathname path, StringList names",
        "RStructList xattr",
        "lgetxattrs of each name in a directory, each led by an entry counting them",
        internal=True,
        group="linuxxattrs",
    ),
    _def(
        "internal_readlinklist",
        206,
        "Pathname path, StringList names",
        "RStringList",
        "readlink of each name in a directory; empty for one that is not a symlink",
        internal=True,
    ),
)
