"""pyguestfs.host."""
