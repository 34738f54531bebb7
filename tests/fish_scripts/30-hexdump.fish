# a multi-line RString
mkdir /s30
write /s30/f "0123456789abcdefXYZ"
hexdump /s30/f
strings /s30/f
