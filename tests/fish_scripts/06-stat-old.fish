# the deprecated stat/lstat structs (library-side in 1.48)
mkdir /s06
touch /s06/f
utimens /s06/f 1 2 3 4
stat /s06/f
