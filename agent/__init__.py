"""pyguestfs.agent."""
