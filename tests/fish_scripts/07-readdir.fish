# an RStructList: [i] = { ... } blocks, FChar fields
mkdir /s07
touch /s07/file
mkdir /s07/dir
ln-s file /s07/link
readdir /s07
