# partitioning the second disk; RStructList of partitions
part-init /dev/sdb mbr
part-add /dev/sdb primary 2048 40959
part-add /dev/sdb primary 40960 -2048
part-list /dev/sdb
part-get-parttype /dev/sdb
list-partitions
part-to-dev /dev/sdb2
part-to-partnum /dev/sdb2
blockdev-getsize64 /dev/sdb1
blockdev-getss /dev/sdb
