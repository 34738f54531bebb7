# -cmd: the error is printed with the script's line number and the script goes on
-mkdir /nonexistent/dir
-cat /s16-nope
-rmdir /
echo still running
