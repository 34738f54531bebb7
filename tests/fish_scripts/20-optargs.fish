# optional arguments name:value, unknown and repeated ones
mkdir /s20
touch /s20/f
ln-s f /s20/l
is-file /s20/l
is-file /s20/l followsymlinks:true
-is-file /s20/l nosuch:1
-is-file /s20/l followsymlinks:true followsymlinks:false
mkdir-p /s20/a/b
