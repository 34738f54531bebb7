# mode: standalone
# pipes and <! without an appliance
echo piped | tr a-z A-Z
echo "a b c" | wc -w
<! echo echo inlined
echo done
