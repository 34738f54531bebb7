# checksums
mkdir /s24
write /s24/f "checksum me\n"
checksum md5 /s24/f
checksum sha1 /s24/f
checksum sha256 /s24/f
-checksum nosuch /s24/f
