"""One module per CLI subcommand; see tlstudio/cli.py."""
