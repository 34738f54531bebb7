# mode: standalone
# list arguments: quotes inside, a runaway quote
set-backend-settings "force_tcg 'a b' c\'d"
get-backend-settings
-set-backend-settings "x 'y"
get-backend-settings
