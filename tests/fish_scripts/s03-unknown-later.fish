# mode: standalone
# an unknown command later in the script: no hint, status 1
echo ok
-nosuch
nosuch2
echo not reached
