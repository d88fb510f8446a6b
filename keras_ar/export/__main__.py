"""`python -m keras_ar.export MODEL.keras OUT_DIR [--backend jax|tensorflow]`."""

import sys

from keras_ar.export.cli import main

if __name__ == "__main__":
    sys.exit(main())
