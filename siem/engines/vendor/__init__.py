"""Third-party code carried in the tree (see each module's header for origin and licence)."""
