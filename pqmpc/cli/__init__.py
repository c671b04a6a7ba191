"""``pqmpc`` command line (console script ``pqmpc.cli.main:entry``); one module per subcommand."""
