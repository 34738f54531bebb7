"""A script written for python3-guestfs (libguestfs 1.48's Python bindings).

tests/test_bindings_compat.py runs it as it is against the real library and, with only
the import line changed, against pyguestfs.host; the printed lines must be the same.

usage: disk_session.py DISK UPLOAD_FILE WORKDIR
"""

import sys

import guestfs

disk, upload_file, workdir = sys.argv[1:4]

g = guestfs.GuestFS(python_return_dict=True)
g.set_backend_settings(["force_tcg"])
g.add_drive_opts(disk, format="raw", readonly=False)
g.launch()

devices = g.list_devices()
print("devices", devices)
g.part_disk(devices[0], "mbr")
partitions = g.list_partitions()
print("partitions", partitions)
g.mkfs("ext4", partitions[0])
g.mount(partitions[0], "/")
print("vfs_type", g.vfs_type(partitions[0]))
print("filesystems", g.list_filesystems())

g.write("/hello.txt", b"hello from a script\n")
g.mkdir_p("/a/b/c")
g.upload(upload_file, "/a/b/c/data.bin")
print("ls /", sorted(g.ls("/")))
print("cat", repr(g.cat("/hello.txt")))
print("read_lines", g.read_lines("/hello.txt"))
print("checksum", g.checksum("sha256", "/a/b/c/data.bin"))
print("size", g.filesize("/a/b/c/data.bin"))
# python3-guestfs returns 1/0 for booleans, pyguestfs True/False: equal, printed apart.
print("is_file/is_dir", bool(g.is_file("/hello.txt")), bool(g.is_dir("/a/b")))
print("is_dir of a file", bool(g.is_dir("/hello.txt")))
g.download("/a/b/c/data.bin", workdir + "/downloaded.bin")
with open(workdir + "/downloaded.bin", "rb") as f:
    print("downloaded bytes", len(f.read()))

g.tar_out("/a", workdir + "/a.tar")
g.mkdir("/restored")
g.tar_in(workdir + "/a.tar", "/restored")
# A trailing slash: without one, guestfsd 1.48 keeps a leading "/" on every name (a bug
# pyguestfs does not copy; docs/compatibility.md).
print("find /restored/", g.find("/restored/"))
print("stat mode", oct(g.statns("/restored/b/c/data.bin")["st_mode"]))

g.rm_rf("/a")
print("exists /a after rm_rf", bool(g.exists("/a")))
try:
    g.cat("/no-such-file")
except RuntimeError as e:
    print("error", e)

print("mounts", g.mounts())
g.umount_all()
print("mounts after umount_all", g.mounts())
g.shutdown()
g.close()
