# an RStruct printed field by field (times masked by the test)
mkdir /s05
write /s05/f "12345"
chmod 0640 /s05/f
statns /s05/f
lstatns /s05/f
