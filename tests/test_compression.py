"""Lossless compression (`keras_ar.compression`): exact round trips for every
family, the file size against the model's NLL, and clear errors for another
model, another backend, truncated or corrupted data and the command line."""

import math
import struct
import zlib

import keras
import numpy as np
import pytest

from keras_ar.compression import HEADER_SIZE, compress, container, decompress
from keras_ar.models import PixelCNNPlusPlus, RecurrentLM
from tests.helpers import take_turns
from tests.tiny_models import TINY_MODELS, build

FAMILIES = sorted(TINY_MODELS)
#: Examples coded together: 8 examples are two full chunks and a padded one.
BATCH = 3
_BUILT = {}


def _tiny(name):
    """The tiny model of a family, built once (its coding loop compiles
    once for the batch of `BATCH`)."""
    if name not in _BUILT:
        _BUILT[name] = build(name)
    return _BUILT[name]


def _round_trip(model, x, labels=None, **kwargs):
    data = compress(model, x, labels=labels, verbose=0, **kwargs)
    out = decompress(model, data, verbose=0)
    if labels is not None:
        out, out_labels = out
        np.testing.assert_array_equal(out_labels, labels)
    np.testing.assert_array_equal(out, x)
    assert out.dtype == np.int32
    return data


# Every family on PyTorch; on the compiling backends the families take turns
# (the codec around the step is the same code for all of them).
@pytest.mark.parametrize(*take_turns("name", FAMILIES))
def test_round_trip_every_family(name):
    model, x, labels = _tiny(name)
    data = _round_trip(model, x, labels, batch_size=BATCH)
    assert len(data) > HEADER_SIZE


def test_text_round_trip_with_end_of_text():
    model = RecurrentLM(vocab_size=6, sequence_length=7, embedding_dim=4, units=8)
    x = np.array(
        [
            [3, 4, 5, 0, 0, 0, 0],  # ends after 3 tokens (0 is the end)
            [1, 2, 3, 4, 5, 1, 2],  # no end: the full length
            [0, 0, 0, 0, 0, 0, 0],  # the empty text
            [5, 0, 0, 0, 0, 0, 0],
        ]
    )
    _round_trip(model, x, batch_size=3)
    with pytest.raises(ValueError, match="after its end"):
        compress(model, np.array([[3, 0, 4, 0, 0, 0, 0]]), verbose=0)


def _size_against_nll(model, x, slack_bits=64):
    data = compress(model, x, batch_size=BATCH, verbose=0)
    assert len(data) - HEADER_SIZE > 0
    nll_bits = -model.log_prob(x).sum() / math.log(2.0)
    payload_bits = 8 * (len(data) - HEADER_SIZE)
    # Within 1% of the model's NLL (and the coder's last words).
    assert payload_bits <= 1.01 * nll_bits + slack_bits, (payload_bits, nll_bits)
    assert payload_bits >= 0.99 * nll_bits - slack_bits, (payload_bits, nll_bits)
    np.testing.assert_array_equal(decompress(model, data, verbose=0), x)


def test_size_matches_categorical_nll():
    model, _, _ = _tiny("pixelcnn")
    x = np.random.default_rng(1).integers(0, 4, (240, 3, 3, 1))
    _size_against_nll(model, x)


@pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="backend-independent: the host's mixture probabilities (NumPy)",
)
def test_size_matches_logistic_mixture_nll():
    # Colour pixels: the host's per-channel conditionals of the mixture
    # must multiply to the model's joint likelihood.
    model = PixelCNNPlusPlus(
        (2, 3, 3), levels=16, num_mixtures=2, num_filters=8, num_resnet=1,
        num_hierarchies=1, dropout_rate=0.0,
    )  # fmt: skip
    x = np.random.default_rng(2).integers(0, 16, (64, 2, 3, 3))
    _size_against_nll(model, x)


@pytest.fixture(scope="module")
def packed():
    model, x, _ = _tiny("pixelcnn")
    return model, x, compress(model, x, batch_size=BATCH, verbose=0)


def _repack(data, **changes):
    """`data` with header fields replaced and the header checksum redone."""
    fields = list(container.HEADER.unpack(data[:HEADER_SIZE]))
    names = ["magic", "version", "backend", "flags", "rank", "d0", "d1", "d2"]
    names += ["count", "batch", "length", "fingerprint", "env", "payload_crc"]
    names += ["data_crc", "header_crc"]
    for key, value in changes.items():
        fields[names.index(key)] = value
    body = container.HEADER.pack(*fields)[:-4]
    return body + struct.pack("<I", zlib.crc32(body)) + data[HEADER_SIZE:]


def test_bad_data_raises(packed):
    model, x, data = packed
    assert len(data) - HEADER_SIZE <= 64 and HEADER_SIZE <= 64
    twin = build("pixelcnn")[0]
    twin.set_weights(model.get_weights())
    np.testing.assert_array_equal(decompress(twin, data, verbose=0), x)
    twin.weights[0].assign(twin.weights[0] + 1e-3)
    with pytest.raises(ValueError, match="another model"):
        decompress(twin, data, verbose=0)
    for cut in (2, HEADER_SIZE - 1, len(data) - 1):
        with pytest.raises(ValueError, match="truncated|not keras_ar"):
            decompress(model, data[:cut], verbose=0)
    with pytest.raises(ValueError, match="after its payload"):
        decompress(model, data + b"\0", verbose=0)
    for position in (9, HEADER_SIZE + 1):  # the header, then the payload
        broken = bytearray(data)
        broken[position] ^= 0x10
        with pytest.raises(ValueError, match="corrupted"):
            decompress(model, bytes(broken), verbose=0)
    with pytest.raises(ValueError, match="not keras_ar"):
        decompress(model, b"PK\3\4" + data[4:], verbose=0)
    with pytest.raises(TypeError, match="bytes"):
        decompress(model, "text", verbose=0)
    other = {"jax": "torch", "torch": "tensorflow", "tensorflow": "jax"}
    backend = container.BACKENDS[other[keras.backend.backend()]]
    with pytest.raises(ValueError, match="backend"):
        decompress(model, _repack(data, backend=backend), verbose=0)
    # A payload that decodes to other values (as in an environment whose
    # arithmetic differs) is caught by the data checksum.
    with pytest.raises(ValueError, match="checksum mismatch"):
        decompress(model, _repack(data, data_crc=0), verbose=0)
    with pytest.raises(ValueError, match="shape"):
        decompress(model, _repack(data, d1=5), verbose=0)


def test_bad_arguments_raise(packed):
    model, x, _ = packed
    with pytest.raises(ValueError, match="`x` values must be in"):
        compress(model, x + 4, verbose=0)
    with pytest.raises(ValueError, match="`x` must hold integers"):
        compress(model, x.astype("float32"), verbose=0)
    with pytest.raises(ValueError, match="`labels` given"):
        compress(model, x, labels=np.zeros(len(x), int), verbose=0)
    with pytest.raises(TypeError, match="`model`"):
        compress("model", x)


# -- command line ---------------------------------------------------------
@pytest.fixture(scope="module")
def saved_pixelcnn(tmp_path_factory):
    model, x, _ = _tiny("pixelcnn")
    path = str(tmp_path_factory.mktemp("cli") / "pixelcnn.keras")
    model.save(path)
    return path, x


def _cli(main, args, capsys):
    """Runs a CLI `main`; returns `(exit code, stdout, stderr)`."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_round_trip(saved_pixelcnn, tmp_path, capsys):
    from PIL import Image

    from keras_ar.compression.cli import main_compress, main_decompress

    path, x = saved_pixelcnn
    np.save(tmp_path / "x.npy", x.astype("uint8"))
    code, out, _ = _cli(
        main_compress, [path, tmp_path / "x.npy", tmp_path / "x.kar"], capsys
    )
    assert code == 0 and "bits per value" in out
    code, _, _ = _cli(
        main_decompress, [path, tmp_path / "x.kar", tmp_path / "y.npy"], capsys
    )
    assert code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), x)
    # One PNG image (grayscale, values < levels) -> the same PNG pixels.
    Image.fromarray(x[0, ..., 0].astype("uint8")).save(tmp_path / "a.png")
    args = ["--quiet", path, tmp_path / "a.png", tmp_path / "a.kar"]
    assert _cli(main_compress, args, capsys)[0] == 0
    args = ["--quiet", path, tmp_path / "a.kar", tmp_path / "b.png"]
    assert _cli(main_decompress, args, capsys)[0] == 0
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "b.png")), x[0, ..., 0]
    )


def test_cli_text_round_trip(tmp_path, capsys):
    from keras_ar.compression.cli import main_compress, main_decompress

    vectorizer = keras.layers.TextVectorization(
        vocabulary=["recipe", "for", "soup", "with", "beans"], output_sequence_length=5
    )
    model = RecurrentLM(
        vocab_size=len(vectorizer.get_vocabulary()), sequence_length=5,
        embedding_dim=4, units=8,
    ).attach_tokenizer(vectorizer)  # fmt: skip
    path = str(tmp_path / "lm.keras")
    model.save(path)
    texts = "recipe for soup\nsoup with beans for recipe\n\nbeans\n"
    (tmp_path / "in.txt").write_text(texts)
    args = ["--quiet", path, tmp_path / "in.txt", tmp_path / "t.kar"]
    assert _cli(main_compress, args, capsys)[0] == 0
    args = ["--quiet", path, tmp_path / "t.kar", tmp_path / "out.txt"]
    assert _cli(main_decompress, args, capsys)[:3:2] == (0, "")
    assert (tmp_path / "out.txt").read_text() == texts


def test_cli_errors_are_one_line(saved_pixelcnn, tmp_path, capsys):
    from keras_ar.compression.cli import main_compress, main_decompress

    path, x = saved_pixelcnn
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "big.npy", x + 4)
    (tmp_path / "junk.kar").write_bytes(b"not a compressed file")
    (tmp_path / "x.csv").write_text("1,2")
    cases = [
        (main_compress, [path, tmp_path / "missing.npy", tmp_path / "o"], "not a file"),
        (main_compress, [tmp_path / "x.npy", tmp_path / "x.npy", tmp_path / "o"], ".keras"),
        (main_compress, [path, tmp_path / "big.npy", tmp_path / "o"], "values must be in"),
        (main_compress, [path, tmp_path / "x.csv", tmp_path / "o"], "unknown kind"),
        (main_compress, [path, tmp_path / "x.npy", tmp_path / "o", "--labels", "1"], "labels"),
        (main_compress, [path], "required"),
        (main_decompress, [path, tmp_path / "junk.kar", tmp_path / "y.npy"], "not keras_ar"),
        (main_decompress, [path, tmp_path / "x.npy", tmp_path / "y.bin"], "use .npy"),
    ]  # fmt: skip
    for main, args, message in cases:
        code, _, err = _cli(main, args, capsys)
        assert code == 2, (args, err)
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert message in err, err


@pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="backend-independent: the recipe's generic codecs (Pillow, stdlib)",
)
def test_recipe_generic_codecs_count_image_data_only():
    import io

    from PIL import Image

    from recipes.compress_fashion_mnist import (
        _png_data_bytes,
        _webp_data_bytes,
        generic_codec_bits,
    )

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (3, 28, 28)).astype("uint8")
    flat = np.zeros((3, 28, 28), "uint8")
    for images in (noise, flat):
        bits = generic_codec_bits(images)
        assert set(bits) == {"lzma", "bzip2", "gzip", "png", "webp"}
        for image in images:
            for kind, count in (("PNG", _png_data_bytes), ("WEBP", _webp_data_bytes)):
                buffer = io.BytesIO()
                options = {"lossless": True} if kind == "WEBP" else {}
                Image.fromarray(image).save(buffer, format=kind, **options)
                data = buffer.getvalue()
                assert 0 < count(data) < len(data)
    # Random bytes do not compress; a constant image nearly vanishes.
    assert all(v > 7.9 for v in generic_codec_bits(noise).values())
    assert all(v < 0.5 for v in generic_codec_bits(flat).values())
