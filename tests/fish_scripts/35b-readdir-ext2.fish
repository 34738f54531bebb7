# an RStructList: [i] = { ... } blocks with FChar fields, on ext2 (whose readdir order
# is the order on disk, not ext4's hash order)
mkdir /s35b
mount /dev/sdb1 /s35b
touch /s35b/file
mkdir /s35b/dir
ln-s file /s35b/link
readdir /s35b
umount /s35b
