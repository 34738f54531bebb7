# LVM on sdb2: a list argument, lvs
pvcreate /dev/sdb2
vgcreate fishvg "/dev/sdb2"
lvcreate fishlv fishvg 8
lvs
vgs
pvs
lvremove /dev/fishvg/fishlv
vgremove fishvg
pvremove /dev/sdb2
