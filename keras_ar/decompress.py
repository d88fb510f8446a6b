"""`python -m keras_ar.decompress MODEL.keras IN OUT`: decodes a file of
`python -m keras_ar.compress` (see `keras_ar.compression.cli`)."""

from keras_ar.compression.cli import main_decompress, run

if __name__ == "__main__":
    run(main_decompress)
