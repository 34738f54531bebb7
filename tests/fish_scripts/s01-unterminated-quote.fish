# mode: standalone
# a line that does not parse ends the script with status 1
echo first
echo "never closed
echo not reached
