# umask prints the old mask in octal (fish_output), get-umask too
get-umask
umask 027
get-umask
umask 022
