# RHashtable: key: value lines
mountpoints
mounts
list-filesystems
