# tar-out to a local pipe
mkdir-p /s31/d
write /s31/d/f "x"
tar-out /s31 - | tar -tf - | sort
tgz-out /s31 - | tar -tzf - | sort
