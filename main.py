"""Launch TL Studio: `python main.py [DATASET]` opens the window; CLI subcommands work too."""
import sys

from tlstudio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
