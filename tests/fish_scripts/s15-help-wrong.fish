# mode: standalone
# help refusals
-help a b
-help nosuchcommand
echo end
