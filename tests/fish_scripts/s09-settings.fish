# mode: standalone
# settings of the handle (library actions) before launch
set-memsize 600
get-memsize
set-memsize 0x200
get-memsize
set-autosync false
get-autosync
set-smp 2
get-smp
is-config
set-network true
get-network
-set-memsize 4G
