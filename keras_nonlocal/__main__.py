"""`python -m keras_nonlocal` runs the command line."""

import sys

from keras_nonlocal.cli import main

sys.exit(main())
