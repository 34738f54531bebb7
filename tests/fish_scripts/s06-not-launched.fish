# mode: standalone
# a daemon call before run: the library's error with the line number
echo line two
ls /
echo not reached
