"""Archives and encodings: tgz, cpio, base64 in and out."""

from __future__ import annotations
