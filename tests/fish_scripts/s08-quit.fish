# mode: standalone
# quit (and exit, q) end the script with status 0
echo before
quit
echo after
