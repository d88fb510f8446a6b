"""The tokenizer protocol of keras_ar's text models.

A text model (`TextAutoregressiveModel`) carries any tokenizer object with:

- `get_vocabulary()` -> list of token strings, in id order (its length must
  not exceed the model's `vocab_size`);
- `tokenize(text)` -> token ids (or, failing that, `tokenizer([text])` ->
  `(1, P)` ids, as `keras.layers.TextVectorization`); padding is dropped;
- optionally `detokenize(ids)` -> text (else the tokens are joined with
  spaces);
- Keras serialization (`get_config`/`from_config`, registered), and
  optionally `save_assets(dir)` / `load_assets(dir)` for what its config
  does not hold. `keras.layers.TextVectorization` and keras-hub tokenizers
  (`WordPieceTokenizer`, ...) store their vocabulary that way; Keras calls
  them while saving and loading the model, because the tokenizer is an
  attribute of it.
"""

import keras
import numpy as np

from keras_ar.validation import to_numpy


def encode_text(tokenizer, text, pad_token_id):
    """Token ids (int32 NumPy `(P,)`) of one text, up to its first pad."""
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a string, got {type(text).__name__}")
    if hasattr(tokenizer, "tokenize"):
        ids = to_numpy(tokenizer.tokenize(text))
    elif callable(tokenizer):
        ids = to_numpy(tokenizer([text]))[0]
    else:
        raise TypeError(
            "The tokenizer must have `tokenize(text)` or be callable on a "
            f"list of texts, got {type(tokenizer).__name__}"
        )
    ids = np.asarray(ids).reshape(-1).astype("int32")
    # A tokenizer with a fixed output length pads its output; the text is
    # the tokens before that padding.
    return _before_first(ids, pad_token_id)


def decode_ids(tokenizer, ids, pad_token_id):
    """Text of a `(T,)` id array, up to its first pad (the end token)."""
    ids = _before_first(np.asarray(ids).astype("int64"), pad_token_id)
    if hasattr(tokenizer, "detokenize"):
        text = tokenizer.detokenize(ids)
        text = to_numpy(text) if not isinstance(text, (str, bytes)) else text
        if isinstance(text, np.ndarray):
            text = text.reshape(-1)[0] if text.size else ""
        return text.decode("utf-8") if isinstance(text, bytes) else str(text)
    vocab = vocabulary_of(tokenizer)
    return " ".join(vocab[t] if t < len(vocab) else "[UNK]" for t in ids.tolist())


def _before_first(ids, pad_token_id):
    if pad_token_id is None:
        return ids
    return ids[np.cumprod(ids != pad_token_id).astype(bool)]


def vocabulary_of(tokenizer):
    """The tokenizer's vocabulary as a list of str."""
    if hasattr(tokenizer, "get_vocabulary"):
        return [
            t.decode("utf-8") if isinstance(t, bytes) else str(t)
            for t in tokenizer.get_vocabulary()
        ]
    raise TypeError(
        "The tokenizer must have `get_vocabulary()` (like "
        "keras.layers.TextVectorization and keras-hub tokenizers), got "
        f"{type(tokenizer).__name__}"
    )


def serialize_tokenizer(tokenizer):
    """The tokenizer's Keras config (None for None), or a clear TypeError."""
    if tokenizer is None:
        return None
    try:
        return keras.saving.serialize_keras_object(tokenizer)
    except Exception as error:
        raise TypeError(
            "The attached tokenizer cannot be saved with the model: it must be "
            "Keras-serializable (get_config/from_config, registered with "
            f"keras.saving.register_keras_serializable); got "
            f"{type(tokenizer).__name__}: {error}"
        ) from error
