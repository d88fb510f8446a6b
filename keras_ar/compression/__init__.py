"""Lossless compression with any keras_ar model.

`compress(model, x, labels=None) -> bytes` codes each element with the
model's conditional distribution (range coding, `constriction`), so a file
takes about the model's negative log-likelihood in bits, plus a 56-byte
header; `decompress(model, data)` gives back `x` exactly (and the labels
of a class-conditional model). See `keras_ar.compression.codec` for how
the two runs see bit-identical distributions and which combinations of
backend and platform are guaranteed to decode.

Example:

>>> import numpy as np
>>> from keras_ar.models import PixelCNN
>>> model = PixelCNN((4, 4, 1), levels=4, filters=8, num_residual_blocks=1)
>>> x = np.random.default_rng(0).integers(0, 4, (3, 4, 4, 1))
>>> data = compress(model, x, verbose=0)
>>> bool((decompress(model, data, verbose=0) == x).all())
True
"""

from keras_ar.compression.codec import compress, decompress, model_fingerprint
from keras_ar.compression.container import HEADER_SIZE

__all__ = ["HEADER_SIZE", "compress", "decompress", "model_fingerprint"]
