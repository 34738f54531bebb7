"""The procedure table, one module per family.

A family is the 1.48 daemon source file that implements a procedure, named for what it
does (``lvm``, ``btrfs``, ``mount`` ...); the agent's ``agent/api/<family>.py`` implements
the procedures that ``protocol/table/<family>.py`` declares. ``extensions`` holds
pyguestfs's own procedures; ``library`` the library-side actions, which have no number.
:mod:`pyguestfs.protocol.procedures` joins the families into the one table.
"""

#: Every family, in the order the table joins them.
FAMILIES: tuple[str, ...] = (
    "daemon",
    "paths",
    "dirs",
    "files",
    "content",
    "transfer",
    "archives",
    "xattr",
    "acl",
    "cap",
    "selinux",
    "devices",
    "blockdev",
    "mount",
    "parted",
    "sfdisk",
    "filesystems",
    "ext2",
    "xfs",
    "btrfs",
    "ntfs",
    "lvm",
    "luks",
    "md",
    "ldm",
    "swap",
    "zero",
    "copy",
    "commands",
    "inspect",
    "augeas",
    "hivex",
    "journal",
    "inotify",
    "tsk",
    "yara",
    "bootloaders",
    "extensions",
)
