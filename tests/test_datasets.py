"""Tests for keras_ar.datasets on small fixtures written to tmp_path.

Nothing here reads real data or the network: the default search directories
and Keras' downloader are replaced by the `isolated` fixture.
"""

import gzip
import json
import os
import re
import string
import struct
import sys
import types

import keras
import numpy as np
import pytest

from keras_ar import datasets
from keras_ar.datasets import (
    FashionMNISTNotFoundError,
    ids_to_text,
    load_epicurious,
    load_fashion_mnist,
    load_fashion_mnist_for_pixelcnn,
    make_text_vectorization,
    pad_images,
    pad_punctuation,
    quantize,
    read_idx,
    resize_images,
    texts_to_ids,
    write_idx,
)
from keras_ar.datasets import fashion_mnist as fm

STEMS = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def idx_bytes(array, type_code=0x08, dtype=">u1"):
    """IDX encoding written here by hand, independent of `write_idx`."""
    array = np.asarray(array)
    header = struct.pack(">HBB", 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


def write_file(path, data, gz):
    if gz:
        data = gzip.compress(data)
        path = str(path) + ".gz"
    with open(path, "wb") as f:
        f.write(data)
    return path


def make_fmnist(directory, seed=0, gz=True, n_train=6, n_test=4):
    """Writes a tiny fake Fashion-MNIST; returns its arrays."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.RandomState(seed)
    arrays = [
        rng.randint(0, 256, (n_train, 28, 28)).astype(np.uint8),
        rng.randint(0, 10, n_train).astype(np.uint8),
        rng.randint(0, 256, (n_test, 28, 28)).astype(np.uint8),
        rng.randint(0, 10, n_test).astype(np.uint8),
    ]
    for stem, array in zip(STEMS, arrays):
        write_file(os.path.join(directory, stem), idx_bytes(array), gz)
    return (arrays[0], arrays[1]), (arrays[2], arrays[3])


def assert_same_data(got, expected):
    for (gx, gy), (ex, ey) in zip(got, expected):
        assert gx.dtype == np.uint8 and gy.dtype == np.uint8
        np.testing.assert_array_equal(gx, ex)
        np.testing.assert_array_equal(gy, ey)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No real data directories, no network: every place is under tmp_path."""
    system_dir = str(tmp_path / "system" / "fashion-mnist")
    monkeypatch.setattr(fm, "SYSTEM_DATA_DIRS", (system_dir,))
    monkeypatch.delenv("KERAS_AR_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def no_network():
        raise OSError("network disabled in tests")

    monkeypatch.setattr(fm, "_download_with_keras", no_network)
    # Make `import tensorflow_datasets` fail even where it is installed.
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    return types.SimpleNamespace(
        system=system_dir,
        keras_cache=str(tmp_path / "keras_home" / "datasets" / "fashion-mnist"),
    )


# ---------------------------------------------------------------------------
# IDX files.


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_matches_hand_written_file(tmp_path, gz):
    array = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    path = write_file(tmp_path / "a-idx3-ubyte", idx_bytes(array), gz)
    got = read_idx(path)
    assert got.dtype == np.uint8 and got.shape == (2, 3, 5)
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize(
    "dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"]
)
@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_write_idx_round_trip(tmp_path, dtype, name):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == "uint8":
        array = np.abs(array).astype(dtype)
    write_idx(tmp_path / name, array)
    got = read_idx(tmp_path / name)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, array)


def test_read_idx_big_endian_ints(tmp_path):
    array = np.array([1, 256, -2], np.int32)
    path = write_file(tmp_path / "ints", idx_bytes(array, 0x0C, ">i4"), gz=False)
    np.testing.assert_array_equal(read_idx(path), array)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_bad_magic(tmp_path, gz):
    data = b"\x00\x00\x07\x03" + b"\x00" * 20  # Type code 0x07 does not exist.
    path = write_file(tmp_path / "bad", data, gz)
    with pytest.raises(ValueError, match=r"bad magic number.*") as info:
        read_idx(path)
    assert os.path.basename(path) in str(info.value)
    path = write_file(tmp_path / "text", b"hello world, not idx", gz)
    with pytest.raises(ValueError, match="magic number"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated_data(tmp_path, gz):
    data = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    path = write_file(tmp_path / "short-idx3-ubyte", data[:-10], gz)
    with pytest.raises(ValueError, match="truncated") as info:
        read_idx(path)
    assert "short-idx3-ubyte" in str(info.value)


def test_read_idx_truncated_header_and_trailing_data(tmp_path):
    data = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="truncated IDX header"):
        read_idx(write_file(tmp_path / "h", data[:9], gz=False))
    with pytest.raises(ValueError, match="shorter than the 4-byte magic"):
        read_idx(write_file(tmp_path / "tiny", data[:2], gz=False))
    with pytest.raises(ValueError, match="trailing data"):
        read_idx(write_file(tmp_path / "long", data + b"\x00", gz=False))


def test_read_idx_truncated_gzip_stream(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a valid gzip file") as info:
        read_idx(path)
    assert "cut.gz" in str(info.value)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


# ---------------------------------------------------------------------------
# Fashion-MNIST: finding the files.


@pytest.mark.parametrize("gz", [False, True])
def test_load_from_path(tmp_path, gz):
    expected = make_fmnist(tmp_path / "data", gz=gz)
    assert_same_data(
        load_fashion_mnist(path=tmp_path / "data", download=False), expected
    )


def test_load_mixed_gz_and_raw(tmp_path):
    expected = make_fmnist(tmp_path / "data", gz=True)
    # Replace one file by its uncompressed form: each file is found on its own.
    gz_path = tmp_path / "data" / (STEMS[1] + ".gz")
    (tmp_path / "data" / STEMS[1]).write_bytes(gzip.decompress(gz_path.read_bytes()))
    gz_path.unlink()
    assert_same_data(load_fashion_mnist(path=str(tmp_path / "data")), expected)


def test_search_order(tmp_path, monkeypatch, isolated):
    from_path = make_fmnist(tmp_path / "given", seed=1)
    from_env = make_fmnist(tmp_path / "env", seed=2)
    from_system = make_fmnist(isolated.system, seed=3)
    from_cache = make_fmnist(isolated.keras_cache, seed=4)
    monkeypatch.setenv("KERAS_AR_DATA", str(tmp_path / "env"))

    assert_same_data(load_fashion_mnist(path=tmp_path / "given"), from_path)
    assert_same_data(load_fashion_mnist(download=False), from_env)
    monkeypatch.delenv("KERAS_AR_DATA")
    assert_same_data(load_fashion_mnist(download=False), from_system)
    monkeypatch.setattr(fm, "SYSTEM_DATA_DIRS", ())
    assert_same_data(load_fashion_mnist(download=False), from_cache)


def test_env_var_subdirectory(tmp_path, monkeypatch, isolated):
    make_fmnist(isolated.system, seed=3)
    expected = make_fmnist(tmp_path / "root" / "fashion-mnist", seed=5)
    monkeypatch.setenv("KERAS_AR_DATA", str(tmp_path / "root"))
    assert_same_data(load_fashion_mnist(download=False), expected)


def test_incomplete_directory_is_skipped(tmp_path, monkeypatch, isolated):
    make_fmnist(tmp_path / "env", seed=2)
    os.remove(tmp_path / "env" / (STEMS[3] + ".gz"))
    expected = make_fmnist(isolated.system, seed=3)
    monkeypatch.setenv("KERAS_AR_DATA", str(tmp_path / "env"))
    assert_same_data(load_fashion_mnist(download=False), expected)


def test_given_path_without_files_does_not_fall_back(tmp_path, monkeypatch, isolated):
    make_fmnist(isolated.system)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FashionMNISTNotFoundError) as info:
        load_fashion_mnist(path=tmp_path / "empty")
    message = str(info.value)
    assert str(tmp_path / "empty") in message
    assert "t10k-labels-idx1-ubyte" in message
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_fashion_mnist(path=tmp_path / "does-not-exist")


def test_nothing_found_lists_every_place(tmp_path, monkeypatch, isolated):
    monkeypatch.setenv("KERAS_AR_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(download=False)
    assert isinstance(info.value, FashionMNISTNotFoundError)
    message = str(info.value)
    for place in [
        str(tmp_path / "env"),
        os.path.join(str(tmp_path / "env"), "fashion-mnist"),
        isolated.system,
        isolated.keras_cache,
    ]:
        assert place in message
    for hint in [
        "apt-get install dataset-fashion-mnist",
        "KERAS_AR_DATA",
        "path=",
        "download=False",
    ]:
        assert hint in message


def test_download_is_the_last_resort(monkeypatch):
    expected = make_fake_download()
    monkeypatch.setattr(fm, "_download_with_keras", lambda: expected)
    assert_same_data(load_fashion_mnist(download=True), expected)


def make_fake_download():
    rng = np.random.RandomState(9)
    return (
        (
            rng.randint(0, 256, (3, 28, 28)).astype(np.uint8),
            np.arange(3, dtype=np.uint8),
        ),
        (
            rng.randint(0, 256, (2, 28, 28)).astype(np.uint8),
            np.arange(2, dtype=np.uint8),
        ),
    )


def test_failed_download_is_reported(isolated):
    with pytest.raises(FashionMNISTNotFoundError) as info:
        load_fashion_mnist(download=True)
    message = str(info.value)
    assert "network disabled in tests" in message
    assert "tensorflow_datasets is not installed" in message
    assert isolated.system in message


def test_tfds_fallback(monkeypatch):
    expected = make_fake_download()
    monkeypatch.setitem(
        sys.modules, "tensorflow_datasets", types.ModuleType("tensorflow_datasets")
    )
    monkeypatch.setattr(fm, "_download_with_tfds", lambda: expected)
    assert_same_data(load_fashion_mnist(download=True), expected)


def test_corrupt_file_found_is_an_error(tmp_path):
    make_fmnist(tmp_path / "data")
    path = tmp_path / "data" / (STEMS[2] + ".gz")
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-5]))
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz.*truncated"):
        load_fashion_mnist(path=tmp_path / "data")


def test_image_label_count_mismatch(tmp_path):
    make_fmnist(tmp_path / "data")
    write_file(tmp_path / "data" / STEMS[1], idx_bytes(np.zeros(5, np.uint8)), gz=True)
    with pytest.raises(ValueError, match="6 images but .* 5 labels"):
        load_fashion_mnist(path=tmp_path / "data")


# ---------------------------------------------------------------------------
# Preprocessing.


def test_quantize_bins():
    x = np.array([0, 63, 64, 127, 128, 191, 192, 255], np.uint8)
    got = quantize(x, 4)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(quantize(x, 2), [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(quantize(x, 256), x)


@pytest.mark.parametrize("levels", [2, 3, 4, 5, 7, 16, 256])
def test_quantize_matches_book_formula(levels):
    x = np.random.RandomState(levels).uniform(0, 255, (50, 16, 16)).astype(np.float32)
    x[0, 0, :3] = [0.0, 255.0, 254.99998]
    got = quantize(x, levels)
    np.testing.assert_array_equal(got, (x / (256 / levels)).astype(int))
    assert got.min() >= 0 and got.max() <= levels - 1


@pytest.mark.parametrize("levels", [1, 0, 257])
def test_quantize_bad_levels(levels):
    with pytest.raises(ValueError, match="levels"):
        quantize(np.zeros(3, np.uint8), levels)


def test_quantize_bad_values():
    with pytest.raises(ValueError, match=r"images.*\[0, 255\]"):
        quantize(np.array([-1.0, 3.0]), 4)
    with pytest.raises(ValueError, match="images"):
        quantize(np.array([256]), 4)


def test_resize_shapes_and_range():
    x = np.random.RandomState(0).randint(0, 256, (3, 28, 28)).astype(np.uint8)
    out = resize_images(x, 16)
    assert out.shape == (3, 16, 16) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    assert resize_images(x[..., None], (16, 20)).shape == (3, 16, 20, 1)
    out8 = resize_images(x, 16, dtype="uint8")
    assert out8.dtype == np.uint8
    np.testing.assert_array_equal(out8, np.round(out))
    # A constant image stays constant under both methods.
    flat = np.full((1, 28, 28), 200, np.uint8)
    for method in ["bilinear", "area"]:
        np.testing.assert_allclose(resize_images(flat, 16, method), 200, atol=1e-4)


@pytest.mark.parametrize("size", [16, 14, 32])
def test_resize_bilinear_matches_keras(size):
    # The NumPy resize equals keras.ops.image.resize (bilinear, no
    # antialiasing: the book's tf.image.resize) on every backend.
    x = np.random.RandomState(1).randint(0, 256, (2, 28, 28, 1)).astype(np.uint8)
    expected = keras.ops.convert_to_numpy(
        keras.ops.image.resize(
            x.astype("float32"), (size, size), interpolation="bilinear", antialias=False
        )
    )
    np.testing.assert_allclose(resize_images(x, size), expected, atol=1e-3)


def test_resize_area_integer_factor_is_block_mean():
    x = np.random.RandomState(2).randint(0, 256, (2, 28, 28)).astype(np.uint8)
    expected = x.reshape(2, 14, 2, 14, 2).astype(np.float64).mean(axis=(2, 4))
    np.testing.assert_allclose(resize_images(x, 14, "area"), expected, atol=1e-4)


def test_resize_bad_arguments():
    x = np.zeros((1, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="size"):
        resize_images(x, 0)
    with pytest.raises(ValueError, match="size"):
        resize_images(x, (16, 16, 16))
    with pytest.raises(ValueError, match="interpolation"):
        resize_images(x, 16, "cubic")
    with pytest.raises(ValueError, match="images"):
        resize_images(np.zeros((28, 28)), 16)


def test_pad_images():
    x = np.random.RandomState(3).randint(1, 256, (2, 28, 28)).astype(np.uint8)
    out = pad_images(x)
    assert out.shape == (2, 32, 32) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, 2:30, 2:30], x)
    assert out.sum() == x.sum()  # The border is all zeros.
    odd = pad_images(x[..., None], 31)
    assert odd.shape == (2, 31, 31, 1)
    np.testing.assert_array_equal(odd[:, 1:29, 1:29, 0], x)
    with pytest.raises(ValueError, match="size"):
        pad_images(x, 20)


def test_load_for_pixelcnn(tmp_path):
    (x_train, y_train), (x_test, _) = make_fmnist(tmp_path / "data")
    (a, b), (c, d) = load_fashion_mnist_for_pixelcnn(
        size=16, levels=4, path=tmp_path / "data"
    )
    assert a.shape == (6, 16, 16, 1) and c.shape == (4, 16, 16, 1)
    assert a.dtype == np.int32 and a.min() >= 0 and a.max() <= 3
    np.testing.assert_array_equal(b, y_train)
    np.testing.assert_array_equal(a[..., 0], quantize(resize_images(x_train, 16), 4))

    (a, _), (c, _) = load_fashion_mnist_for_pixelcnn(
        size=28, levels=256, path=tmp_path / "data", pad_to=32, limit=2
    )
    assert a.shape == (2, 32, 32, 1) and c.shape == (2, 32, 32, 1)
    np.testing.assert_array_equal(a[:, 2:30, 2:30, 0], x_train[:2])
    np.testing.assert_array_equal(c[:, 2:30, 2:30, 0], x_test[:2])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"levels": 1}, "levels"),
        ({"levels": 300}, "levels"),
        ({"size": 0}, "size"),
        ({"size": 16, "pad_to": 8}, "pad_to"),
        ({"limit": 0}, "limit"),
        ({"interpolation": "cubic"}, "interpolation"),
    ],
)
def test_load_for_pixelcnn_bad_arguments(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name):
        load_fashion_mnist_for_pixelcnn(path=tmp_path, **kwargs)


# ---------------------------------------------------------------------------
# Epicurious.


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


RECORDS = [
    {"title": "Eggnog ", "directions": ["Beat eggs.", "Add rum, stir."], "rating": 4.0},
    {},
    {"title": None, "directions": ["Lost title."]},
    {"title": "No directions"},
    {"title": "Empty directions", "directions": []},
    {"title": "   ", "directions": ["Blank title."]},
    {"title": "Toast", "directions": ["Toast bread."], "ingredients": ["bread"]},
    {"title": "Null directions", "directions": None},
]


def test_load_epicurious_filters_and_formats(tmp_path):
    got = load_epicurious(write_json(tmp_path / "r.json", RECORDS))
    assert got == [
        "Recipe for Eggnog  | Beat eggs. Add rum, stir.",
        "Recipe for Toast | Toast bread.",
    ]


def test_load_epicurious_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_epicurious(tmp_path / "missing.json")


def test_load_epicurious_invalid_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"title": "x",\n   "directions": [}\n]')
    with pytest.raises(ValueError, match=r"bad\.json: invalid JSON at line 3, column"):
        load_epicurious(path)


@pytest.mark.parametrize(
    "obj, pattern",
    [
        ({"title": "x"}, "top level, got dict"),
        (
            [{"title": "ok", "directions": ["a"]}, "text"],
            "record 1: expected a JSON object",
        ),
        (
            [{}, {}, {"title": 3, "directions": ["a"]}],
            "record 2: `title` must be a string",
        ),
        (
            [{"title": "x", "directions": "Stir."}],
            "record 0: `directions` must be a list",
        ),
        (
            [{}, {"title": "x", "directions": ["Stir.", 5, "Bake."]}],
            r"record 1: `directions` must be a list of strings, it holds int 5",
        ),
    ],
)
def test_load_epicurious_malformed(tmp_path, obj, pattern):
    path = write_json(tmp_path / "bad.json", obj)
    with pytest.raises(ValueError, match=pattern) as info:
        load_epicurious(path)
    assert "bad.json" in str(info.value)


def test_load_epicurious_truncates_the_record_in_messages(tmp_path):
    path = write_json(
        tmp_path / "bad.json", [{"title": 1, "directions": ["word " * 500]}]
    )
    with pytest.raises(ValueError) as info:
        load_epicurious(path)
    assert "..." in str(info.value) and len(str(info.value)) < 400


def test_pad_punctuation():
    assert pad_punctuation("Beat eggs, then chill.") == "Beat eggs , then chill ."
    assert pad_punctuation("Recipe for X | 3/4 cup") == "Recipe for X | 3 / 4 cup"
    assert pad_punctuation("a  b") == "a b"
    # Every ASCII punctuation mark becomes its own word.
    assert pad_punctuation("x" + string.punctuation + "y").split() == (
        ["x"] + list(string.punctuation) + ["y"]
    )
    with pytest.raises(TypeError, match="text"):
        pad_punctuation(["a"])


def test_pad_punctuation_matches_book_preprocessing():
    def book(s):
        s = re.sub(f"([{string.punctuation}])", r" \1 ", s)
        return re.sub(" +", " ", s)

    text = (
        "Recipe for Chicken (Quick!) | Heat oil; add 1/2 cup... Serve-hot [optional]."
    )
    assert pad_punctuation(text) == book(text).strip()


def test_text_vectorization_round_trip():
    texts = [
        pad_punctuation(t)
        for t in [
            "Recipe for Toast | Toast bread, then butter it.",
            "Recipe for Tea | Boil water. Add tea.",
            "Recipe for Toast | Toast bread.",
        ]
    ]
    vectorizer = make_text_vectorization(texts, vocab_size=100, sequence_length=20)
    vocab = vectorizer.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"]
    ids = texts_to_ids(vectorizer, texts)
    assert ids.shape == (3, 20) and ids.dtype == np.int32
    assert ids[2, -1] == 0  # Short texts are padded with 0.
    assert ids_to_text(vectorizer, ids) == [t.lower() for t in texts]
    assert ids_to_text(vocab, ids[0]) == texts[0].lower()

    unknown = texts_to_ids(vectorizer, ["toast zebra ."])
    assert ids_to_text(vocab, unknown[0]) == "toast [UNK] ."
    # `sequence_length` is the number of ids: longer texts are cut.
    short = make_text_vectorization(texts, vocab_size=100, sequence_length=4)
    assert texts_to_ids(short, texts[:1], batch_size=1).shape == (1, 4)
    assert ids_to_text(short, texts_to_ids(short, texts[:1])[0]) == "recipe for toast |"


def test_text_vectorization_vocab_size_and_batches():
    texts = [f"w{i} common" for i in range(30)]
    vectorizer = make_text_vectorization(texts, vocab_size=5, sequence_length=3)
    assert len(vectorizer.get_vocabulary()) == 5
    ids = texts_to_ids(vectorizer, texts, batch_size=7)
    assert ids.shape == (30, 3) and ids.max() < 5
    np.testing.assert_array_equal(ids, texts_to_ids(vectorizer, texts))


def test_text_helpers_bad_arguments():
    with pytest.raises(ValueError, match="vocab_size"):
        make_text_vectorization(["a b"], vocab_size=2)
    with pytest.raises(ValueError, match="sequence_length"):
        make_text_vectorization(["a b"], sequence_length=0)
    with pytest.raises(TypeError, match="texts"):
        make_text_vectorization("a b")
    with pytest.raises(ValueError, match="texts"):
        make_text_vectorization([])
    with pytest.raises(ValueError, match="ids"):
        ids_to_text(["", "[UNK]", "a"], [1, 2, 3])
    with pytest.raises(ValueError, match="ids"):
        ids_to_text(["", "[UNK]", "a"], np.zeros((1, 1, 1), int))


def test_public_api():
    for name in datasets.__all__:
        assert callable(getattr(datasets, name))
