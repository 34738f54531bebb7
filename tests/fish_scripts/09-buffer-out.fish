# RBufferOut results are written raw, without a newline added
mkdir /s09
write /s09/f "abcdefgh"
read-file /s09/f
echo
pread /s09/f 3 2
echo
