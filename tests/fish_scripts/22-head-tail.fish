# head and tail
mkdir /s22
write /s22/f "1\n2\n3\n4\n5\n"
head-n 2 /s22/f
tail-n 2 /s22/f
head-n -3 /s22/f
tail-n +4 /s22/f
