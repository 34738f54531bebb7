"""Guest pathnames resolved under the sysroot, with no escape.

The C guestfsd chroots into ``/sysroot`` for each call; the whole appliance is its sandbox.
This agent also runs standalone on a host (``--sysroot DIR``), where an escape would touch
the host, so every pathname is resolved component by component the way a chroot would:
``..`` stops at the root, and each symlink is read and followed *inside* the root (an
absolute target restarts at the sysroot). The result is a host path with no symlink left
in its parents, so the operation that follows cannot be led outside.
"""

from __future__ import annotations

import errno
import os
import stat

from .errors import AgentError

#: Linux's limit on symlinks followed during one lookup (MAXSYMLINKS).
MAX_SYMLINKS = 40
#: Linux's PATH_MAX (terminating NUL included): the kernel refuses longer paths with
#: ENAMETOOLONG, and so does the resolver, before walking them component by component
#: (a 4 MiB path of two million components would otherwise take hours and gigabytes).
PATH_MAX = 4096


class Sysroot:
    """A directory standing for the guest's ``/``."""

    def __init__(self, root: str, *, mount_required: bool = False) -> None:
        self.root = os.path.realpath(root)
        #: In the appliance, path APIs need a filesystem mounted on the sysroot first.
        self.mount_required = mount_required

    def check_mounted(self, api: str) -> None:
        """libguestfs's NEED_ROOT check."""
        if self.mount_required and not os.path.ismount(self.root):
            raise AgentError(
                f"{api}_stub: you must call 'mount' first to mount the root filesystem"
            )

    @staticmethod
    def check_length(guest_path: str) -> None:
        """ENAMETOOLONG, as the kernel says it, for a path of PATH_MAX bytes or more."""
        if len(guest_path) >= PATH_MAX and len(os.fsencode(guest_path)) >= PATH_MAX:
            raise AgentError.from_errno(errno.ENAMETOOLONG, guest_path[:64] + "...")

    def _components(self, guest_path: str, follow_last: bool) -> list[str]:
        """Resolved components of ``guest_path`` relative to the root."""
        self.check_length(guest_path)
        pending = [c for c in guest_path.split("/") if c not in ("", ".")]
        pending.reverse()  # a stack: the next component is at the end
        done: list[str] = []
        # hosts[i] is the host path of done[:i]: joining the whole list again for every
        # component made resolving quadratic in the number of components.
        hosts = [self.root]
        links = 0
        while pending:
            name = pending.pop()
            if name == "..":
                if done:
                    done.pop()
                    hosts.pop()
                continue
            is_last = not pending
            host = os.path.join(hosts[-1], name)
            if is_last and not follow_last:
                done.append(name)
                break
            try:
                st = os.lstat(host)
            except OSError:
                # A missing component: the operation itself reports ENOENT/ENOTDIR.
                done.append(name)
                hosts.append(host)
                continue
            if not stat.S_ISLNK(st.st_mode):
                done.append(name)
                hosts.append(host)
                continue
            links += 1
            if links > MAX_SYMLINKS:
                raise AgentError.from_errno(errno.ELOOP, guest_path)
            target = os.readlink(host)
            if target.startswith("/"):
                done = []
                hosts = [self.root]
            pending.extend(reversed([c for c in target.split("/") if c not in ("", ".")]))
        return done

    def host_join(self, components: list[str]) -> str:
        return os.path.join(self.root, *components) if components else self.root

    def resolve(self, guest_path: str, *, follow: bool = True) -> str:
        """Host path for an absolute guest path. With ``follow=False`` a final symlink is
        left alone (for lstat, readlink, rm ...); its parents are always resolved."""
        return self.host_join(self._components(guest_path, follow))

    def canonical(self, guest_path: str) -> str:
        """The guest-visible canonical form of a path, every symlink followed."""
        return "/" + "/".join(self._components(guest_path, True))

    def display(self, guest_path: str) -> str:
        """How guestfsd's messages show a path: under ``/sysroot``, never our host path."""
        return "/sysroot" + ("" if guest_path.startswith("/") else "/") + guest_path

    def hide(self, text: str) -> str:
        """Replace the host location of the sysroot by ``/sysroot`` in a tool's output."""
        return text.replace(self.root.rstrip("/") or "/", "/sysroot") if self.root != "/" else text

    def to_guest(self, host_path: str) -> str:
        """Inverse of :meth:`resolve` for paths under the root."""
        rel = os.path.relpath(host_path, self.root)
        return "/" if rel == "." else "/" + rel
