# write-append, fallocate, truncate
mkdir /s38
write /s38/f "a"
write-append /s38/f "bc"
cat /s38/f
echo
fallocate64 /s38/g 1000
filesize /s38/g
truncate /s38/g
filesize /s38/g
