# mode: standalone
# args: echo a : -nosuch : echo "b c" : get-memsize : set-memsize 1x : echo no
