"""`python -m dedup`: the command line (dedup.cli.commands)."""

from dedup.cli.commands import main

if __name__ == "__main__":
    main()
