"""Whether Keras' attention may use flash attention on this machine."""

import keras


def flash_attention_impossible():
    """True on PyTorch without CUDA, where flash attention never applies.

    Keras' PyTorch `dot_product_attention` otherwise asks torch at every call
    (`flash_attention=None`) by building a C++ parameter object, which
    `torch.compile` cannot trace: a compiled sampling step would break into
    one graph per attention layer.
    """
    if keras.backend.backend() != "torch":
        return False
    import torch

    return not torch.cuda.is_available()
