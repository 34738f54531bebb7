# mode: standalone
# a here-document without its end marker
echo start
upload -<<NOEND /x
some text
