# copy-in and copy-out: directories through tar, modes kept
!mkdir -p s43-local/sub && printf 'one\n' > s43-local/a && printf 'two\n' > s43-local/sub/b && chmod 0750 s43-local/sub && chmod 0604 s43-local/a
mkdir /s43
copy-in s43-local /s43
find /s43/
cat /s43/s43-local/sub/b
statns /s43/s43-local/a | grep -E "st_(mode|size)"
!mkdir s43-out
copy-out /s43/s43-local /s43/s43-local/a s43-out
!cd s43-out && find . -printf '%p %m %s\n' | sort
-copy-in s43-nonexistent /s43
-copy-out /s43/nonexistent s43-out
-copy-in s43-local
!rm -rf s43-local s43-out
