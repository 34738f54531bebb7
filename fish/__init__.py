"""``pyguestfish``: a guestfish-compatible shell on the pyguestfs host library.

:mod:`.parse` splits lines as guestfish does, :mod:`.commands` derives the command set
from the procedure table, :mod:`.apicall` converts words to arguments and calls the
handle, :mod:`.output` prints results in guestfish's formats, :mod:`.local` holds the
commands guestfish implements itself, :mod:`.prep` the ``-N`` prepared disks,
:mod:`.shell` the script loop, :mod:`.interactive` the prompt with tab completion and
:mod:`.cli` the options.
"""
