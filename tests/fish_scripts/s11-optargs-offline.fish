# mode: standalone
# optional argument errors need no appliance
-add /dev/null nosuch:1
-add /dev/null readonly:perhaps
-add /dev/null readonly:true readonly:true
-add /dev/null blocksize:12x
echo end
