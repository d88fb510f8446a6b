"""keras_ar.anomaly: per-position log-likelihoods of every family sum to
`log_prob` and are the model's conditionals; the likelihood ratio and the
input-complexity score are exact functions of `log_prob` and of a real
codec's byte length; the detection metrics agree with hand-checked examples
and with a rank count; a background model is trained on perturbed inputs;
text models are scored like images; bad inputs get errors naming the
argument."""

import io
import lzma
import math

import keras
import numpy as np
import pytest
from PIL import Image

from keras_ar import anomaly
from keras_ar.models import PixelCNN, RecurrentLM
from tests.helpers import only_on, take_turns, write_fashion_mnist
from tests.tiny_models import build

only_jax = only_on("jax", "backend-independent (NumPy, codecs)")
LN2 = math.log(2.0)


def _kwargs(labels):
    return {} if labels is None else {"labels": labels}


# One family per implementation of the hook (`element_log_probs`): image
# models with a categorical head (one and three channels), with a mixture
# head, sequences, MADE, text. The other families inherit theirs from
# ImageAutoregressiveModel / TextAutoregressiveModel unchanged.
# They take turns on TensorFlow and JAX (the mixture head's on TensorFlow,
# where its first eager pass costs least).
HOOKS = [
    "pixelcnn",
    "pixelcnn_plus_plus",
    "pixel_snail",
    "wavenet",
    "made",
    "recurrent_lm",
]


@pytest.mark.parametrize(*take_turns("name", HOOKS))
def test_log_prob_elements_sum_to_log_prob_and_are_conditionals(name):
    model, x, labels = build(name)
    x = x[:3]
    # Changing the last position changes its own term only (a conditional of
    # what came before), not the terms of the positions before it.
    flat = x.reshape(len(x), -1)
    changed = flat.copy()
    changed[:, -1] = (changed[:, -1] + 1) % model.levels
    both = np.concatenate([flat, changed]).reshape((2 * len(x),) + x.shape[1:])
    elements = model.log_prob_elements(both, batch_size=len(both))
    image = x.ndim == 4
    assert elements.shape == (both.shape[:3] if image else both.shape)
    assert elements.dtype == np.float64 and np.all(elements <= 1e-6)
    np.testing.assert_allclose(
        elements.reshape(len(both), -1).sum(axis=1),
        model.log_prob(both, batch_size=len(both)),
        rtol=1e-5,
        atol=1e-4,
    )
    assert model.log_prob_elements(x[:0]).shape == (0,) + elements.shape[1:]
    if name == "made":
        return  # MADE's conditionals follow its own ordering
    before, after = np.split(elements.reshape(len(both), -1), 2)
    np.testing.assert_allclose(after[:, :-1], before[:, :-1], rtol=1e-5, atol=1e-5)
    assert np.any(np.abs(after[:, -1] - before[:, -1]) > 1e-6)


def test_log_prob_elements_of_a_conditional_model():
    from keras_ar.models import MADE

    model = MADE(input_dim=5, levels=3, hidden_units=(16,), num_classes=2)
    x = np.random.default_rng(0).integers(0, 3, (4, 5))
    given = {label: np.full((4,), label) for label in (0, 1)}
    elements = {k: model.log_prob_elements(x, labels=v) for k, v in given.items()}
    for label in (0, 1):
        np.testing.assert_allclose(
            elements[label].sum(axis=1),
            model.log_prob(x, labels=given[label]),
            rtol=1e-5,
        )
    assert not np.allclose(elements[0], elements[1])  # the label is used


def _pixelcnn(levels=4, shape=(4, 4, 1), seed=0):
    keras.utils.set_random_seed(seed)
    return PixelCNN(
        shape, levels=levels, filters=8, kernel_size=3, num_residual_blocks=1
    )


def _fitted(model, x, epochs=1):
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=epochs, batch_size=8, verbose=0)
    return model


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (16, 4, 4, 1)).astype("int32")
    x[:8, :2] = 0  # some structure to learn
    model = _fitted(_pixelcnn(), x)
    background = anomaly.train_background_model(
        model, x, mu=0.3, epochs=1, batch_size=8
    )
    return model, background, x


def test_likelihood_ratio_is_the_difference_of_log_probs(pair):
    model, background, x = pair
    assert background is not model and anomaly.is_trained(background)
    dims = x[0].size
    ratio = anomaly.likelihood_ratio(model, background, x, batch_size=5)
    expected = (model.log_prob(x) - background.log_prob(x)) / (dims * LN2)
    np.testing.assert_allclose(ratio, expected, rtol=1e-6, atol=1e-6)
    assert np.ptp(ratio) > 0
    np.testing.assert_allclose(
        anomaly.anomaly_score(model, x, "likelihood_ratio", background=background),
        -expected,
        rtol=1e-6,
        atol=1e-9,
    )
    # Per position: the map sums to the ratio in bits.
    ratio_map = anomaly.likelihood_ratio_map(model, background, x)
    np.testing.assert_allclose(
        ratio_map.sum(axis=(1, 2)), ratio * dims, rtol=1e-4, atol=1e-3
    )


def test_nll_and_complexity_are_exact(pair):
    model, _, x = pair
    dims = x[0].size
    nll = anomaly.nll_bits_per_dim(model, x, batch_size=3)
    np.testing.assert_allclose(
        nll, -model.log_prob(x) / (dims * LN2), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        anomaly.nll_map(model, x).sum(axis=(1, 2)), nll * dims, rtol=1e-5
    )
    for codec in ("png", "webp", "lzma"):
        bits = anomaly.compressed_bits(x, codec, levels=4)
        score = anomaly.input_complexity(model, x, codec=codec)
        np.testing.assert_allclose(score, nll - bits / dims, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(
            anomaly.anomaly_score(model, x, "complexity", codec=codec), score, atol=1e-6
        )


@only_jax
def test_compressed_bits_are_the_codecs_byte_lengths():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (3, 8, 8, 1))
    x[1] = 7  # a constant image compresses far better than noise
    png = anomaly.compressed_bits(x, "png")
    for k, image in enumerate(x):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0].astype("uint8")).save(
            buffer, format="PNG", compress_level=9
        )
        assert png[k] == 8 * len(buffer.getvalue())
        # The PNG decodes back to the image: the length is of a lossless code.
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
        np.testing.assert_array_equal(decoded, image[..., 0])
    assert png[1] < png[0] and png[1] < png[2]
    webp = anomaly.compressed_bits(x, "webp")
    for k, image in enumerate(x):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0].astype("uint8")).save(
            buffer, format="WEBP", lossless=True, quality=100, method=6, exact=True
        )
        assert webp[k] == 8 * len(buffer.getvalue())
        # Lossless: the grey image comes back in each of the RGB channels.
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
        np.testing.assert_array_equal(decoded, np.repeat(image, 3, axis=-1))
    assert webp[1] < webp[0] and webp[1] < webp[2]
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
    raw = [
        lzma.compress(
            e.astype("uint8").tobytes(), format=lzma.FORMAT_RAW, filters=filters
        )
        for e in x
    ]
    np.testing.assert_array_equal(
        anomaly.compressed_bits(x, "lzma"), [8 * len(r) for r in raw]
    )
    rgb = rng.integers(0, 256, (2, 5, 6, 3))
    assert anomaly.compressed_bits(rgb, "png").shape == (2,)
    assert list(anomaly.compressed_bits(x, codec=lambda e: b"ab")) == [16.0] * 3


@only_jax
def test_metrics_hand_checked_and_against_a_rank_count():
    m = anomaly.detection_metrics([0.1, 0.2, 0.3], [0.25, 0.4, 0.5])
    assert m["auroc"] == pytest.approx(8 / 9)
    # Ranked: + + - + - -: precision 1, 1, 3/4 at each recall step of 1/3.
    assert m["auprc"] == pytest.approx((1 + 1 + 0.75) / 3)
    # Flagging all anomalies (threshold 0.25) flags one in three normals.
    assert m["fpr_at_95_tpr"] == pytest.approx(1 / 3)
    perfect = anomaly.detection_metrics([0, 1, 2], [3, 4])
    assert perfect == {"auroc": 1.0, "auprc": 1.0, "fpr_at_95_tpr": 0.0}
    assert anomaly.detection_metrics([3, 4], [0, 1, 2])["auroc"] == 0.0
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 20, 200), rng.integers(5, 25, 150)  # with ties
    count = (b[:, None] > a[None]).mean() + 0.5 * (b[:, None] == a[None]).mean()
    assert anomaly.detection_metrics(a, b)["auroc"] == pytest.approx(count)
    fpr, tpr = anomaly.roc_curve(a, b)
    assert fpr[0] == 0 and tpr[-1] == 1 and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(count)


@only_jax
def test_perturb_replaces_at_rate_mu():
    x = np.zeros((200, 10, 10, 1), "int32")
    noisy = anomaly.perturb(x, 0.2, levels=5, seed=0)
    assert noisy.shape == x.shape and noisy.min() >= 0 and noisy.max() < 5
    # A replaced element keeps its value with probability 1/levels.
    assert (noisy != 0).mean() == pytest.approx(0.2 * 4 / 5, abs=0.01)
    np.testing.assert_array_equal(anomaly.perturb(x, 0.0, levels=5), x)
    assert np.array_equal(noisy, anomaly.perturb(x, 0.2, levels=5, seed=0))


@only_on(
    "torch",
    "test time: the scores are NumPy over the text hook, which the hooks test "
    "above runs compiled on TensorFlow",
)
def test_text_models_scored_like_images():
    # "Recipes": sequences that follow a rule (count up from a random start);
    # anomalies: the same tokens shuffled within each sequence.
    rng = np.random.default_rng(0)
    vocab, length = 12, 10
    start = rng.integers(1, vocab, (96, 1))
    x = ((start + np.arange(length)) % (vocab - 1) + 1).astype("int32")
    shuffled = np.array([rng.permutation(row) for row in x[:32]])
    keras.utils.set_random_seed(0)
    model = RecurrentLM(
        vocab_size=vocab, sequence_length=length, embedding_dim=8, units=16,
        pad_token_id=0,
    )  # fmt: skip
    _fitted(model, x[32:], epochs=25)
    held_out = x[:32]
    naive = anomaly.detection_metrics(
        anomaly.nll_bits_per_dim(model, held_out),
        anomaly.nll_bits_per_dim(model, shuffled),
    )
    assert naive["auroc"] > 0.9
    # Per token: the end of a text (the first pad) is scored, what follows
    # it is not.
    padded = held_out[:2].copy()
    padded[:, 6:] = 0
    token_nll = anomaly.nll_map(model, padded)
    assert token_nll.shape == padded.shape
    assert np.all(token_nll[:, 7:] == 0) and np.all(token_nll[:, :7] > 0)
    dims = anomaly.scores.dims_per_example(model, padded)
    np.testing.assert_array_equal(dims, [7, 7])
    np.testing.assert_allclose(
        token_nll.sum(axis=1) / dims, anomaly.nll_bits_per_dim(model, padded), rtol=1e-5
    )
    score = anomaly.input_complexity(model, held_out, codec="lzma")
    np.testing.assert_allclose(
        score,
        anomaly.nll_bits_per_dim(model, held_out)
        - anomaly.compressed_bits(held_out, "lzma", vocab) / length,
    )


def test_bad_inputs_name_the_argument(pair):
    model, background, x = pair
    with pytest.raises(ValueError, match="`x`"):
        anomaly.nll_bits_per_dim(model, x[:, :3])  # wrong shape
    with pytest.raises(ValueError, match="`x`"):
        anomaly.likelihood_ratio(model, background, x + 4)  # out of range
    with pytest.raises(ValueError, match="`x`"):
        anomaly.input_complexity(model, x.astype("float32") / 4)
    untrained = _pixelcnn(seed=1)
    with pytest.raises(ValueError, match="`background` has never been trained"):
        anomaly.likelihood_ratio(model, untrained, x)
    with pytest.raises(ValueError, match="`background` must model the same inputs"):
        anomaly.likelihood_ratio(model, _fitted(_pixelcnn(levels=8), x), x)
    with pytest.raises(ValueError, match="`background` is `model` itself"):
        anomaly.likelihood_ratio(model, model, x)
    with pytest.raises(TypeError, match="`background`"):
        anomaly.likelihood_ratio(model, "model", x)
    with pytest.raises(ValueError, match="needs a `background`"):
        anomaly.anomaly_score(model, x, "likelihood_ratio")
    with pytest.raises(ValueError, match="`method`"):
        anomaly.anomaly_score(model, x, "entropy")
    with pytest.raises(ValueError, match="`codec`"):
        anomaly.input_complexity(model, x, codec="gif")
    with pytest.raises(ValueError, match="codec='png' needs images"):
        anomaly.compressed_bits(np.zeros((2, 5), "int32"), "png")
    with pytest.raises(ValueError, match="codec='webp' needs levels <= 256"):
        anomaly.compressed_bits(np.zeros((2, 4, 4, 1), "int32"), "webp", levels=300)
    with pytest.raises(ValueError, match="`x` values"):
        anomaly.compressed_bits(x, "png", levels=2)
    with pytest.raises(ValueError, match="`mu`"):
        anomaly.perturb(x, 1.5, levels=4)
    with pytest.raises(ValueError, match="`mu`"):
        anomaly.train_background_model(model, x, mu=-0.1)
    with pytest.raises(TypeError, match="`model`"):
        anomaly.train_background_model("pixelcnn", x)
    with pytest.raises(ValueError, match="`in_scores`"):
        anomaly.detection_metrics([], [1.0])
    with pytest.raises(ValueError, match="`out_scores`"):
        anomaly.detection_metrics([0.0], [float("nan")])
    with pytest.raises(ValueError, match="`maps`"):
        anomaly.plot_heatmaps(x[:2], np.zeros((2, 3, 3)), "/tmp/unused.png")


@pytest.fixture(scope="module")
def fashion_dir(tmp_path_factory):
    """120 training and 30 test images, labels cycling through the ten
    classes."""
    return write_fashion_mnist(tmp_path_factory.mktemp("fashion"), 120, 30, "cycle")


@pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="the recipe's plumbing, on the backend where it runs fastest here",
)
def test_recipe_tiny_writes_tables_curves_and_heat_maps(fashion_dir, tmp_path, capsys):
    import json

    from recipes import anomaly_fashion_mnist as recipe

    out = tmp_path / "run"
    argv = ["--tiny", "--data", str(fashion_dir), "--out", str(out), "--verbose", "0"]
    result = recipe.main(argv)
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["mode"] == "tiny" and results["backend"] == "torch"
    sets = results["ood"]["sets"]
    assert len(sets) == 6
    for row in sets.values():
        for method in recipe.METHODS:
            assert 0.0 <= row[method]["auroc"] <= 1.0
    # Uniform noise is far less likely than anything the model saw.
    assert sets["uniform noise"]["nll"]["auroc"] > 0.9
    one_class = results["one_class"]
    assert set(one_class["classes"]) == {"Trouser"}
    mean = np.mean([row["nll"]["auroc"] for row in one_class["classes"].values()])
    assert one_class["mean_auroc"]["nll"] == pytest.approx(mean)
    table = (out / "results.md").read_text()
    assert "| uniform noise |" in table and "**mean**" in table and table in printed
    for name in (
        "roc_ood_nll.png", "roc_ood_likelihood_ratio.png", "roc_ood_complexity.png",
        "roc_ood_complexity_webp.png", "roc_ood_complexity_lzma.png",
        "roc_ood_complexity_local.png", "roc_one_class.png", "heatmaps_nll.png", "heatmaps_ratio.png",
    ):  # fmt: skip
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert result["metrics"]["ood"]["num_train"] == 32
    reloaded = keras.saving.load_model(out / "background.keras")
    assert anomaly.is_trained(reloaded)  # the saved optimizer keeps its steps
    local = keras.saving.load_model(out / "local.keras")
    assert anomaly.is_trained(local) and local.kernel_size == 3
    assert "complexity (local model)" in table
    assert "typicality (NLL, PNG length)" in table
    # The typicality reference: the last 8 training images, held out of
    # training (one-class: Trouser's 12 images leave 4 to train on).
    assert result["metrics"]["ood"]["num_reference"] == 8
    assert one_class["classes"]["Trouser"]["num_reference"] == 8
    assert one_class["classes"]["Trouser"]["num_train"] == 4
    for row in one_class["classes"].values():
        assert row["local_final_train_bits_per_dim"] > 0


def test_typical_set_is_the_mahalanobis_distance_to_the_reference():
    rng = np.random.default_rng(0)
    nll = rng.normal(3.0, 0.2, 200)
    reference = {"nll": nll, "complexity": 0.5 * nll + rng.normal(0.0, 0.1, 200)}
    x = {"nll": np.array([3.0, 2.0, 4.0, 3.1]), "complexity": np.array([1.5, 1.0, 2.0, 2.5])}
    # One score: the two-sided test ((s - mean) / std)^2, with the mean and
    # (population) standard deviation of the reference.
    one = anomaly.TypicalSet().fit({"nll": nll})
    expected = ((x["nll"] - nll.mean()) / nll.std()) ** 2
    np.testing.assert_allclose(one.score({"nll": x["nll"]}), expected, rtol=1e-10)
    assert one.score({"nll": x["nll"]})[1] > 20 and one.mean["nll"] == nll.mean()
    # Two: (s - m)^T C^-1 (s - m) with the reference's covariance.
    two = anomaly.TypicalSet().fit(reference)
    matrix = np.stack([reference["complexity"], reference["nll"]], axis=1)  # sorted names
    d = np.stack([x["complexity"], x["nll"]], axis=1) - matrix.mean(0)
    inverse = np.linalg.inv(np.cov(matrix.T, bias=True))
    np.testing.assert_allclose(
        two.score(x), np.einsum("ij,jk,ik->i", d, inverse, d), rtol=1e-8
    )
    # An ordinary NLL with a complexity that does not go with it is
    # atypical: the last input, which the NLL alone finds ordinary.
    assert two.score(x)[3] > 50 * one.score({"nll": x["nll"]})[3]
    # The distance does not depend on how the scores are written: the same
    # information as (nll, nll - complexity) gives the same distances.
    def recoded(scores):
        return {"nll": scores["nll"], "gap": scores["nll"] - scores["complexity"]}

    again = anomaly.TypicalSet().fit(recoded(reference))
    np.testing.assert_allclose(again.score(recoded(x)), two.score(x), rtol=1e-8)


def test_typical_set_refuses_bad_scores():
    good = {"nll": np.linspace(2.0, 4.0, 20)}
    with pytest.raises(ValueError, match="not fitted"):
        anomaly.TypicalSet().score(good)
    with pytest.raises(TypeError, match="`reference` must be a non-empty dict"):
        anomaly.TypicalSet().fit(np.ones(5))
    with pytest.raises(ValueError, match="at least 5 inputs for 2 score"):
        anomaly.TypicalSet().fit({"a": np.arange(4.0), "b": np.arange(4.0) ** 2})
    with pytest.raises(ValueError, match="degenerate"):
        anomaly.TypicalSet().fit({"a": np.arange(9.0), "b": 2 * np.arange(9.0) + 1})
    with pytest.raises(ValueError, match="non-finite"):
        anomaly.TypicalSet().fit({"nll": np.array([1.0, np.nan, 2.0, 3.0])})
    with pytest.raises(ValueError, match="one length"):
        anomaly.TypicalSet().fit({"a": np.arange(9.0), "b": np.arange(8.0)})
    typical = anomaly.TypicalSet().fit(good)
    with pytest.raises(ValueError, match=r"fitted on, \['nll'\], got \['complexity'\]"):
        typical.score({"complexity": np.ones(3)})
    with pytest.raises(ValueError, match="1-D"):
        typical.score({"nll": np.ones((2, 2))})


def test_all_scores_at_once_equal_each_score(pair):
    model, background, x = pair
    scores = anomaly.anomaly_scores(model, x, background, codec="lzma")
    for method in ("nll", "likelihood_ratio", "complexity"):
        one = anomaly.anomaly_score(
            model, x, method, background=background, codec="lzma"
        )
        np.testing.assert_allclose(scores[method], one, rtol=1e-6, atol=1e-6)
    assert set(anomaly.anomaly_scores(model, x, codec=None)) == {"nll"}


def test_local_model_sees_only_its_window():
    # Pixel (4, 4) of a 6x6 image with window 3 reads (3, 3), (3, 4), (3, 5)
    # and (4, 3): changing one of them changes its conditional, changing
    # any other pixel before it (or any pixel after it) does not.
    keras.utils.set_random_seed(0)
    local = anomaly.local_model(_pixelcnn(shape=(6, 6, 1)), window=3, filters=8)
    assert local.num_residual_blocks == 0 and local.kernel_size == 3
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (1, 6, 6, 1)).astype("int32")
    inside = {(3, 3), (3, 4), (3, 5), (4, 3)}
    variants, positions = [x], [(r, c) for r in range(6) for c in range(6)]
    for r, c in positions:
        changed = x.copy()
        changed[0, r, c, 0] = (changed[0, r, c, 0] + 1 + rng.integers(0, 3)) % 4
        variants.append(changed)
    elements = local.log_prob_elements(np.concatenate(variants))[:, 4, 4]
    moved = {p for p, e in zip(positions, elements[1:]) if abs(e - elements[0]) > 1e-7}
    assert moved == inside | {(4, 4)}


def test_local_model_as_the_complexity_codec(pair):
    model, _, x = pair
    local = anomaly.train_local_model(model, x, window=3, filters=8, epochs=1, batch_size=8)
    assert anomaly.is_trained(local) and local.image_shape == model.image_shape
    dims = x[0].size
    bits = anomaly.compressed_bits(x, local, levels=4)
    np.testing.assert_allclose(bits, -local.log_prob(x) / LN2, rtol=1e-6)
    score = anomaly.input_complexity(model, x, codec=local)
    expected = (local.log_prob(x) - model.log_prob(x)) / (dims * LN2)
    np.testing.assert_allclose(score, expected, rtol=1e-5, atol=1e-6)
    assert np.ptp(score) > 0
    np.testing.assert_allclose(
        anomaly.anomaly_scores(model, x, codec=local)["complexity"], score, atol=1e-6
    )
    with pytest.raises(ValueError, match="`codec` has never been trained"):
        anomaly.input_complexity(model, x, codec=anomaly.local_model(model))
    with pytest.raises(ValueError, match="`codec` models levels=8"):
        anomaly.compressed_bits(x, anomaly.local_model(_pixelcnn(levels=8)), levels=4)
    with pytest.raises(ValueError, match="`x` holds examples of shape"):
        anomaly.compressed_bits(x[:, :3, :3], local, levels=4)
    with pytest.raises(ValueError, match="`window` must be odd"):
        anomaly.local_model(model, window=4)
    with pytest.raises(TypeError, match="`model` must be a keras_ar image model"):
        anomaly.local_model(RecurrentLM(vocab_size=5, sequence_length=4))


@only_jax
def test_local_codec_length_is_keras_ar_compression_s(pair):
    # L(x) = -log2 p_local(x) is what keras_ar.compression writes, within
    # the range coder's few words of slack, plus the header.
    from keras_ar.compression import HEADER_SIZE, compress

    model, _, x = pair
    local = anomaly.train_local_model(model, x, window=3, filters=8, epochs=1, batch_size=8)
    bits = anomaly.compressed_bits(x[:4], local, levels=4)
    written = np.array([8 * (len(compress(local, x[i : i + 1], verbose=0)) - HEADER_SIZE)
                        for i in range(4)])  # fmt: skip
    assert np.all(written >= bits - 1e-6) and np.all(written <= bits + 64), (
        written, bits)  # fmt: skip
