# mode: standalone
# escapes guestfish refuses
-echo "abc\q"
-echo "\400"
-echo "\x0"
echo "\x7e\176"
-echo 'unterminated
echo end
