# mode: standalone
# args: --ro --rw
