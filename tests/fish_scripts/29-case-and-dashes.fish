# command names: any case, dashes or underscores, aliases
MKDIR /s29
Is-Dir /s29
mkdir_p /s29/a/b
IS_DIR /s29/a/b
add-ro /dev/null
