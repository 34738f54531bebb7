# base64 out and in
mkdir /s32
write /s32/f "base64 data\n"
base64-out /s32/f -
base64-in -<<EOF /s32/g
aGVsbG8K
EOF
cat /s32/g
