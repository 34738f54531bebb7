# write, cat, read-lines, booleans on files
mkdir /s01
write /s01/a "hello\nworld\n"
cat /s01/a
read-lines /s01/a
is-file /s01/a
is-dir /s01/a
exists /s01/nope
