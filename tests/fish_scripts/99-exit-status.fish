# the last script: a failing command without '-' ends the run with status 1
echo before failure
mkdir /s99/no/such/parent
echo never printed
