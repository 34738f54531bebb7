# devices
list-devices
list-filesystems
is-whole-device /dev/sda
is-whole-device /dev/sda1
