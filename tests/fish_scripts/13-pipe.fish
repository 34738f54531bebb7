# cmd | local command
mkdir /s13
write /s13/f "lower case\n"
cat /s13/f | tr a-z A-Z
ls /s13 | wc -l
echo after pipe
