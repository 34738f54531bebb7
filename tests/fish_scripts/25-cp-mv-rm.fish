# copying, moving, removing
mkdir /s25
write /s25/a "a"
cp /s25/a /s25/b
mv /s25/b /s25/c
ls /s25
rm /s25/a
mkdir-p /s25/d/e
cp-a /s25/d /s25/f
rm-rf /s25/d
ls /s25
