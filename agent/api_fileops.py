"""More file operations: reading parts of files, searching, xattrs, links, special files."""

from __future__ import annotations
