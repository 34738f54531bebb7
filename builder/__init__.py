"""pyguestfs.builder."""
