# ls and find: RStringList one name a line (find of a directory without a trailing
# slash keeps a leading "/" on every name, as guestfsd 1.48 does)
mkdir-p /s02/x/y
touch /s02/x/f1
touch /s02/x/y/f2
ls /s02/x
find /s02
find /s02/
find0 /s02/ - | tr "\\0" "\\n" | sort
