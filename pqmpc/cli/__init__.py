"""``pqmpc`` command line (entry point ``pqmpc.cli.main:main``); one module per subcommand."""
