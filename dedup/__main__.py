"""`python -m dedup`: the command line (dedup.cli)."""

from .cli import main

if __name__ == "__main__":
    main()
