# The same session as disk_session.py, for guestfish (run: guestfish -a DISK -f this).
# /upload and /download paths are given with -x-free variables by the test.
run
list-devices
part-disk /dev/sda mbr
list-partitions
mkfs ext4 /dev/sda1
mount /dev/sda1 /
vfs-type /dev/sda1
write /hello.txt "hello from guestfish"
mkdir-p /a/b/c
upload @UPLOAD@ /a/b/c/data.bin
ls /
cat /hello.txt
checksum sha256 /a/b/c/data.bin
filesize /a/b/c/data.bin
download /a/b/c/data.bin @WORKDIR@/fish-downloaded.bin
tar-out /a @WORKDIR@/fish-a.tar
mkdir /restored
tar-in @WORKDIR@/fish-a.tar /restored
find /restored/
rm-rf /a
exists /a
mounts
umount-all
mounts
