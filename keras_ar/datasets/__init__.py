"""Data loaders and preprocessing for the book's datasets.

- Fashion-MNIST (PixelCNN chapter): `load_fashion_mnist` reads local IDX files
  (or downloads through Keras), `load_fashion_mnist_for_pixelcnn` resizes and
  quantizes them; `resize_images`, `quantize`, `pad_images` (in
  `keras_ar.datasets.images`) are the steps.
- Epicurious recipes (LSTM chapter): `load_epicurious`, `pad_punctuation`,
  `make_text_vectorization`, `texts_to_ids`, `ids_to_text`.
- `read_idx` / `write_idx`: the IDX file format.
"""

from keras_ar.datasets.epicurious import (
    ids_to_text,
    load_epicurious,
    make_text_vectorization,
    pad_punctuation,
    texts_to_ids,
)
from keras_ar.datasets.fashion_mnist import (
    FashionMNISTNotFoundError,
    load_fashion_mnist,
    load_fashion_mnist_for_pixelcnn,
)
from keras_ar.datasets.idx import read_idx, write_idx
from keras_ar.datasets.images import pad_images, quantize, resize_images

__all__ = [
    "FashionMNISTNotFoundError",
    "ids_to_text",
    "load_epicurious",
    "load_fashion_mnist",
    "load_fashion_mnist_for_pixelcnn",
    "make_text_vectorization",
    "pad_images",
    "pad_punctuation",
    "quantize",
    "read_idx",
    "resize_images",
    "texts_to_ids",
    "write_idx",
]
