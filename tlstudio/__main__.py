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

        try:
            return cli_main(argv)
        finally:
            _exit_at_once_on_sigint()
    from tlstudio.app import main as app_main

    return app_main(argv)


def _exit_at_once_on_sigint() -> None:
    """The command is done and the interpreter shuts down next (threads joined,
    modules torn down); a Ctrl-C then ends the process at once with status 130
    instead of a KeyboardInterrupt traceback from whatever was being torn down."""
    import os
    import signal
    import threading

    def now(signum, frame):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed or broken stream: nothing more can be said on it
                pass
        os._exit(130)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, now)


if __name__ == "__main__":
    sys.exit(main())
