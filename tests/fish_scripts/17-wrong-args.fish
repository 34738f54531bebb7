# the wrong number of arguments: usage lines
-mkdir
-mkdir /a /b
-write /only-one
-statns
echo after
