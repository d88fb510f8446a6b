"""Epicurious recipes: the text data of the book's LSTM chapter.

"Generative Deep Learning" (2nd ed., ch. 5) trains a word-level LSTM on the
Kaggle "Epicurious - Recipes with Rating and Nutrition" file
`full_format_recipes.json`, a JSON list of records such as
`{"title": str, "directions": [str, ...], "ingredients": [str, ...], ...}`.
Some records are empty (`{}`) or have a null title; those are skipped.
"""

import collections
import json
import os
import re
import string
import warnings

import numpy as np
from keras import layers, ops

from keras_ar.validation import check_int

# One character class holding every ASCII punctuation mark; `re.escape` keeps
# `]`, `\\`, `^` and `-` literal inside the brackets.
_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_SPACES = re.compile(" +")


def _snippet(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_epicurious(path, encoding="utf-8"):
    """Loads the Epicurious recipes as one string per recipe.

    Keeps the records whose `title` and `directions` are both present and
    non-empty (a blank title or an empty directions list counts as absent)
    and skips the others, counting them: a `UserWarning` says how many were
    skipped and why (e.g. "12 with no title"). A file where no record is
    usable raises. Each record kept is formatted as the book does:
    `"Recipe for " + title + " | " + " ".join(directions)`.
    Titles are kept as written (no stripping), like the book.

    Args:
        path: path of `full_format_recipes.json`.
        encoding: the file's text encoding.

    Returns:
        A list of strings, in file order.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: naming the file, if it is not valid JSON (with line and
            column), if the top level is not a list, or if a record is
            malformed (not an object, a title that is not a string,
            directions that are not a list of strings); the message gives the
            record's index and a truncated copy of it. Also if no record
            is usable (an empty list, or no record with both a `title` and
            `directions`): the message names the fields expected, the keys
            found and why the records were skipped.

    Example:

    >>> recipes = load_epicurious("full_format_recipes.json")  # doctest: +SKIP
    >>> recipes[0][:40]  # doctest: +SKIP
    'Recipe for Lentil, Apple, and Turkey Wrap'
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Epicurious file not found: {path}")
    try:
        with open(path, encoding=encoding) as f:
            records = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not {encoding} text: {e}") from None
    if not isinstance(records, list):
        raise ValueError(
            f"{path}: expected a JSON list of recipe records at the top "
            f"level, got {type(records).__name__}: {_snippet(records)}"
        )

    recipes = []
    skipped = collections.Counter()
    keys_seen = collections.Counter()
    for index, record in enumerate(records):

        def bad(problem, index=index, record=record):
            return ValueError(f"{path}: record {index}: {problem}: {_snippet(record)}")

        if not isinstance(record, dict):
            raise bad(f"expected a JSON object, got {type(record).__name__}")
        title = record.get("title")
        directions = record.get("directions")
        if title is not None and not isinstance(title, str):
            raise bad(f"`title` must be a string or null, got {type(title).__name__}")
        if directions is not None:
            if not isinstance(directions, list):
                raise bad(
                    "`directions` must be a list of strings or null, got "
                    f"{type(directions).__name__}"
                )
            for step in directions:
                if not isinstance(step, str):
                    raise bad(
                        "`directions` must be a list of strings, it holds "
                        f"{type(step).__name__} {_snippet(step, 40)}"
                    )
        keys_seen.update(record.keys())
        reason = _skip_reason(record, title, directions)
        if reason:
            skipped[reason] += 1
            continue
        recipes.append("Recipe for " + title + " | " + " ".join(directions))
    _report(path, len(records), recipes, skipped, keys_seen)
    return recipes


def _skip_reason(record, title, directions):
    if "title" not in record:
        return "no `title` field"
    if "directions" not in record:
        return "no `directions` field"
    if title is None or not title.strip():
        return "an empty or null `title`"
    if not directions:
        return "empty or null `directions`"
    return None


def _report(path, total, recipes, skipped, keys_seen):
    """Raises if nothing is usable; warns with the skip counts otherwise."""
    reasons = ", ".join(f"{n} with {why}" for why, n in skipped.most_common())
    if not recipes:
        found = ", ".join(f"{k!r} ({n})" for k, n in keys_seen.most_common(12))
        raise ValueError(
            f"{path}: no usable recipe among {total} records: each record "
            "needs a non-empty string `title` and a non-empty list of strings "
            "`directions` (the Kaggle full_format_recipes.json schema). "
            + (f"Skipped {reasons}. " if reasons else "")
            + f"Fields found (in how many records): {found or 'none'}."
        )
    if skipped:
        warnings.warn(
            f"{path}: skipped {sum(skipped.values())} of {total} records "
            f"({reasons}); kept {len(recipes)}.",
            stacklevel=3,
        )


def pad_punctuation(text):
    """Puts spaces around punctuation so each mark becomes its own word.

    The book's preprocessing before a whitespace tokenizer: every ASCII
    punctuation character gets a space on both sides, runs of spaces collapse
    to one, and the ends are stripped.

    Args:
        text: a string.

    Returns:
        The padded string.

    Example:

    >>> pad_punctuation("Recipe for Eggnog | Beat the eggs, then chill.")
    'Recipe for Eggnog | Beat the eggs , then chill .'
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a string, got {type(text).__name__}")
    return _SPACES.sub(" ", _PUNCTUATION.sub(r" \1 ", text)).strip()


def make_text_vectorization(
    texts, vocab_size=10000, sequence_length=200, batch_size=1024
):
    """Builds a `keras.layers.TextVectorization` fitted on `texts`.

    Configured like the book: lower-casing only (punctuation is kept, so pad
    it first with `pad_punctuation`), whitespace split, integer output.
    `sequence_length` is the number of ids each text becomes (truncated or
    padded with 0). For next-word training pass one more than the context
    length (the book uses `MAX_LEN + 1`) and shift: inputs `ids[:, :-1]`,
    targets `ids[:, 1:]`.

    The layer runs on TensorFlow internally (TensorFlow must be installed)
    but works with any Keras backend; `texts_to_ids` returns NumPy.

    Args:
        texts: list (or 1-D array) of strings to build the vocabulary from.
        vocab_size: maximum vocabulary size, including the padding id 0 and
            the out-of-vocabulary id 1 (`"[UNK]"`); at least 3.
        sequence_length: number of ids per encoded text.
        batch_size: batch size used while adapting.

    Returns:
        The adapted `TextVectorization` layer.

    Example:

    >>> texts = [pad_punctuation(t) for t in ["Mix, then bake.", "Bake it."]]
    >>> vectorizer = make_text_vectorization(texts, 100, sequence_length=6)
    >>> texts_to_ids(vectorizer, ["bake it ."]).shape
    (1, 6)
    """
    vocab_size = check_int("vocab_size", vocab_size, minimum=3)
    sequence_length = check_int("sequence_length", sequence_length, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    texts = _check_texts(texts)
    if not texts:
        raise ValueError(
            "`texts` is empty: there is nothing to build a vocabulary from"
        )
    vectorizer = layers.TextVectorization(
        max_tokens=vocab_size,
        standardize="lower",
        split="whitespace",
        output_mode="int",
        output_sequence_length=sequence_length,
    )
    vectorizer.adapt(np.array(texts, dtype=object), batch_size=batch_size)
    return vectorizer


def _check_texts(texts):
    if isinstance(texts, str):
        raise TypeError("`texts` must be a list of strings, got a single string")
    if isinstance(texts, np.ndarray):
        texts = texts.reshape(-1).tolist()
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"`texts` must hold strings, item {i} is {type(text).__name__}"
            )
    return texts


def texts_to_ids(vectorizer, texts, batch_size=1024):
    """Encodes texts with a fitted `TextVectorization` into a NumPy array.

    Args:
        vectorizer: a layer from `make_text_vectorization`.
        texts: list of strings.
        batch_size: texts encoded per call (bounds memory on big corpora).

    Returns:
        An int32 array of shape (len(texts), sequence_length).

    Example:

    >>> ids = texts_to_ids(vectorizer, ["bake it ."])  # doctest: +SKIP
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    texts = _check_texts(texts)
    width = vectorizer.get_config().get("output_sequence_length")
    if not texts:
        return np.zeros((0, width or 0), np.int32)
    chunks = [
        ops.convert_to_numpy(
            vectorizer(np.array(texts[i : i + batch_size], dtype=object))
        )
        for i in range(0, len(texts), batch_size)
    ]
    return np.concatenate(chunks).astype(np.int32)


def ids_to_text(vocab, ids):
    """Decodes ids back to space-separated words, dropping padding (id 0).

    Args:
        vocab: the vocabulary list (`vectorizer.get_vocabulary()`), or the
            fitted `TextVectorization` layer itself.
        ids: a 1-D sequence of ids, or a 2-D array (one row per text).

    Returns:
        A string for 1-D `ids`, a list of strings for 2-D `ids`.
        Out-of-vocabulary words come back as `"[UNK]"`.

    Example:

    >>> ids_to_text(["", "[UNK]", "bake", "."], [2, 3, 0, 0])
    'bake .'
    """
    if hasattr(vocab, "get_vocabulary"):
        vocab = vocab.get_vocabulary()
    vocab = [str(word) for word in vocab]
    ids = np.asarray(ids)
    if ids.ndim not in (1, 2):
        raise ValueError(f"`ids` must be 1-D or 2-D, got shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"`ids` must be integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= len(vocab)):
        raise ValueError(
            f"`ids` must be in [0, {len(vocab)}) for a vocabulary of "
            f"{len(vocab)} words, got range [{ids.min()}, {ids.max()}]"
        )
    if ids.ndim == 2:
        return [ids_to_text(vocab, row) for row in ids]
    return " ".join(vocab[i] for i in ids.tolist() if i != 0)
