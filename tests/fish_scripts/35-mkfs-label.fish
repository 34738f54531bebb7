# a filesystem on sdb1, labels, vfs-type
mkfs ext2 /dev/sdb1
set-label /dev/sdb1 fishlabel
vfs-label /dev/sdb1
vfs-type /dev/sdb1
mkdir /s35
mount /dev/sdb1 /s35
touch /s35/on-sdb1
ls /s35
umount /s35
