"""`python -m keras_nonlocal.applications` prints the model zoo table."""

import sys

from keras_nonlocal.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("zoo", prog="python -m keras_nonlocal.applications"))
