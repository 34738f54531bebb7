"""pyguestfs.initrd."""
