# <! runs a local command and executes its output as commands
<! printf 'mkdir /s14\ntouch /s14/made\necho inlined\n'
ls /s14
