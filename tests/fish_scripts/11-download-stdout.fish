# download to "-" writes the file to standard output
mkdir /s11
write /s11/f "to stdout\n"
download /s11/f -
echo done
