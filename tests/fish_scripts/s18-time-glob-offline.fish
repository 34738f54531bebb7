# mode: standalone
# glob with words that are not paths, and lcd errors
glob echo a b
-lcd /nonexistent-dir
-lcd
-time
echo end
