"""`python -m keras_ar.compress MODEL.keras IN OUT`: lossless compression with
a keras_ar model (see `keras_ar.compression.cli`)."""

from keras_ar.compression.cli import main_compress, run

if __name__ == "__main__":
    run(main_compress)
