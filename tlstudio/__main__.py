"""`python -m tlstudio` and the `tlstudio` command: the window, or a CLI subcommand."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    # Training runs in a spawned child process; a frozen (installer) build must
    # let that child run its task instead of opening a second window.
    multiprocessing.freeze_support()
    argv = list(sys.argv[1:] if argv is None else argv)
    from tlstudio.cli import is_cli_invocation

    if is_cli_invocation(argv):
        from tlstudio.cli import main as cli_main

        return cli_main(argv)
    from tlstudio.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
