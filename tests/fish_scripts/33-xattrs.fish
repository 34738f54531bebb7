# extended attributes: an FBuffer field printed with \x escapes
mkdir /s33
touch /s33/f
setxattr user.plain value 5 /s33/f
setxattr user.bin "a\x01b" 3 /s33/f
getxattrs /s33/f
getxattr /s33/f user.plain
echo
