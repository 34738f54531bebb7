"""The libguestfs 1.48 wire protocol: the procedure table, the XDR codec and framing.

Both sides import this package; neither imports the other.
"""

from .procedures import BY_NAME, BY_NUMBER, PROCEDURES, Procedure

__all__ = ["BY_NAME", "BY_NUMBER", "PROCEDURES", "Procedure"]
