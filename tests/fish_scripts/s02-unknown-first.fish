# mode: standalone
# an unknown first command adds the "did you mean" hint
nosuchcommand arg
