# time prints the elapsed time after the command's output (masked)
time echo timed
time mkdir /s27
