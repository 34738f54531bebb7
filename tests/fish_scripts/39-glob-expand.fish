# glob-expand (an API) beside glob (a local command)
mkdir /s39
touch /s39/x1
touch /s39/x2
glob-expand /s39/x*
glob-expand "/s39/[x]1"
