"""What the builder and the host library share, below both (standard library only).

* :mod:`pyguestfs.core.settings` -- the one table of every setting, read in one place.
* :mod:`pyguestfs.core.runner` -- the one way the host side runs a program to completion.
* :mod:`pyguestfs.core.rundir` -- private runtime directories whose socket paths fit.
* :mod:`pyguestfs.core.errors` -- the error every layer above may raise to a user.
"""
