"""`python -m keras_nonlocal.applications` prints the model zoo table."""

import argparse
import sys

from keras_nonlocal.applications import zoo_command

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m keras_nonlocal.applications", description=zoo_command.__doc__
    )
    zoo_command.add_arguments(parser)
    sys.exit(int(zoo_command.run(parser.parse_args()) or 0))
