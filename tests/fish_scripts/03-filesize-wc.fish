# RInt and RInt64 results
mkdir /s03
write /s03/f "one two\nthree\nfour five six\n"
filesize /s03/f
wc-l /s03/f
wc-w /s03/f
wc-c /s03/f
