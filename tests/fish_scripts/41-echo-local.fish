# local commands that need no appliance, in a running session
echo one two   three
lcd /
!pwd
setenv FISHVAR fishvalue
!echo $FISHVAR
unsetenv FISHVAR
!echo "[$FISHVAR]"
