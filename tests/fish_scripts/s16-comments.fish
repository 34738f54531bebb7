# mode: standalone
   # indented comment

	echo	tabs	between	words
echo # not a comment inside a command
  -  echo dash with blanks
