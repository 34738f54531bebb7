# win: paths: backslashes, case resolved in the guest; drive letters need inspection
mkdir /s44
mkdir /s44/SubDir
write /s44/SubDir/MixedCase "found\n"
cat win:\s44\subdir\mixedcase
is-file win:/S44/SUBDIR/MIXEDCASE
-cat win:c:\s44\x
