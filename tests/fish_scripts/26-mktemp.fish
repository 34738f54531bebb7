# random names (masked by the test)
mkdir /s26
mktemp /s26/tmpXXXXXX
mkdtemp /s26/dirXXXXXX
