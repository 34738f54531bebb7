# upload and download of local files, local commands with !
mkdir /s12
!printf 'local data\n' > s12-local.txt
upload s12-local.txt /s12/f
cat /s12/f
download /s12/f s12-back.txt
!cat s12-back.txt
!rm -f s12-local.txt s12-back.txt
