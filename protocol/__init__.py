"""pyguestfs.protocol."""
