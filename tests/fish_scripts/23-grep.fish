# grep family (RStringList)
mkdir /s23
write /s23/f "Apple\nbanana\napple pie\ncherry\n"
grep apple /s23/f
grepi apple /s23/f
fgrep an /s23/f
egrep "^(b|c)" /s23/f
grep "" /s23/f grepi:true compressed:false
