# integers: suffixes, bases, and what xstrtoll refuses
mkdir /s18
touch /s18/f
truncate-size /s18/f 1k
filesize /s18/f
truncate-size /s18/f 0x10
filesize /s18/f
truncate-size /s18/f 010
filesize /s18/f
truncate-size /s18/f 2KB
filesize /s18/f
truncate-size /s18/f 1KiB
filesize /s18/f
-truncate-size /s18/f 12x
-truncate-size /s18/f abc
-truncate-size /s18/f 99999999999999999999
-chmod 99999999999 /s18/f
