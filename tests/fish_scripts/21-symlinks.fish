# symbolic links
mkdir /s21
write /s21/target "t"
ln-s target /s21/link
readlink /s21/link
is-symlink /s21/link
realpath /s21/link
ln-sf /s21/other /s21/link
readlink /s21/link
