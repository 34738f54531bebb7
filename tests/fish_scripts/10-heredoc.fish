# upload from a here-document (-<<END)
mkdir /s10
upload -<<END /s10/doc
first line
  second "quoted" line
END
cat /s10/doc
echo after heredoc
