"""Archives: tar, cpio and compressed streams in and out of the guest, initrds."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "tar_in",
        69,
        "FileIn tarfile, Pathname directory",
        "RErr",
        "unpack a local tar file into a guest directory",
        optargs="OString compress, OBool xattrs, OBool selinux, OBool acls",
        aliases=("tar_in_opts",),
    ),
    _def(
        "tar_out",
        70,
        "String directory, FileOut tarfile",
        "RErr",
        "pack a guest directory into a local tar file",
        optargs="OString compress, OBool numericowner, OStringList excludes, OBool xattrs, "
        "OBool selinux, OBool acls",
        aliases=("tar_out_opts",),
    ),
    _def(
        "tgz_in",
        71,
        "FileIn tarball, Pathname directory",
        "RErr",
        "unpack a local gzip-compressed tarball into a guest directory",
        deprecated_by="tar_in",
    ),
    _def(
        "tgz_out",
        72,
        "Pathname directory, FileOut tarball",
        "RErr",
        "pack a guest directory into a local gzip-compressed tarball",
        deprecated_by="tar_out",
    ),
    _def(
        "initrd_list",
        128,
        "Pathname path",
        "RStringList",
        "the names of the files inside an initrd (a cpio archive, maybe compressed)",
    ),
    _def(
        "initrd_cat",
        221,
        "Pathname initrdpath, String filename",
        "RBufferOut",
        "the bytes of one file inside an initrd",
    ),
    _def(
        "txz_in",
        229,
        "FileIn tarball, Pathname directory",
        "RErr",
        "unpack a local xz-compressed tarball into a guest directory",
        group="xz",
        deprecated_by="tar_in",
    ),
    _def(
        "txz_out",
        230,
        "Pathname directory, FileOut tarball",
        "RErr",
        "pack a guest directory into a local xz-compressed tarball",
        group="xz",
        deprecated_by="tar_out",
    ),
    _def(
        "compress_out",
        291,
        "String ctype, Pathname file, FileOut zfile",
        "RErr",
        "download a guest file compressed (compress, gzip, bzip2, xz or lzop)",
        optargs="OInt level",
    ),
    _def(
        "compress_device_out",
        292,
        "String ctype, Device device, FileOut zdevice",
        "RErr",
        "download a guest device compressed (compress, gzip, bzip2, xz or lzop)",
        optargs="OInt level",
    ),
    _def(
        "cpio_out",
        419,
        "String directory, FileOut cpiofile",
        "RErr",
        "pack a guest directory into a local cpio archive (format newc or crc)",
        optargs="OString format",
    ),
)
