"""The ``robofuse`` command line: one module per subcommand."""
