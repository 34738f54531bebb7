# ls and find: RStringList one name a line (find of "DIR/": guestfsd 1.48 keeps a
# leading "/" on every name when DIR has no trailing slash, see compatibility.md)
mkdir-p /s02/x/y
touch /s02/x/f1
touch /s02/x/y/f2
ls /s02/x
find /s02/
find0 /s02/ - | tr "\\0" "\\n" | sort
