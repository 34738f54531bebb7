# quoting: double quotes with escapes, single quotes, spaces in names
mkdir "/s28"
write "/s28/a b" "tab\there"
ls '/s28'
cat "/s28/a b"
echo 'single "double" inside'
echo "\x41\102\t|"
echo "a\\b" "" end
