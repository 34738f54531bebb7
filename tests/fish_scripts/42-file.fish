# file(1) in the appliance
mkdir /s42
write /s42/t "plain text\n"
file /s42/t
file /s42
file /dev/sda
