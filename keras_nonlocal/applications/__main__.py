"""`python -m keras_nonlocal.applications` prints the model zoo table."""

import argparse
import sys

from keras_nonlocal.applications import zoo_command


def main(argv=None):
    """Runs the zoo table command.

    Args:
        argv: arguments without the program name.

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m keras_nonlocal.applications",
        description="Print the model zoo table (parameters, FLOPs).",
    )
    zoo_command.add_arguments(parser)
    return zoo_command.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
