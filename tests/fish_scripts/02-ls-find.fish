# ls and find: RStringList one name a line
mkdir-p /s02/x/y
touch /s02/x/f1
touch /s02/x/y/f2
ls /s02/x
find /s02
