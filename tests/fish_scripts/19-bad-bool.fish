# boolean words
mkdir /s19
touch /s19/f
is-file /s19/f followsymlinks:yes
is-file /s19/f followsymlinks:OFF
-is-file /s19/f followsymlinks:maybe
