"""The `dedup` command line."""


def main() -> None:
    """The `dedup` console script; also the entry point that installs made before the move still call."""
    from dedup.cli.commands import main as run

    run()
