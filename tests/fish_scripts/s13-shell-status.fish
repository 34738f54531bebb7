# mode: standalone
# !cmd: a failing local command ends the script, -!cmd does not
!echo from shell
-!false
echo survived
!exit 3
echo not reached
