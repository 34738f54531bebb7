# glob expands guest wildcards and runs the command for each
mkdir /s15
touch /s15/a1
touch /s15/a2
touch /s15/b1
glob echo /s15/a*
glob is-file /s15/* /s15/b*
glob rm /s15/a*
ls /s15
glob echo /s15/nomatch*
