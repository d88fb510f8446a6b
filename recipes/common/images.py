"""The steps shared by the image recipes: data, sample grids, evaluation."""

import math
import os
import time

from recipes.common.outputs import ensure_out_dir
from recipes.common.plots import save_image_grid

#: Fashion-MNIST's class names, by label.
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def load_fashion_mnist(run):
    """Fashion-MNIST for an image recipe, announced (shapes and levels):
    `((x_train, y_train), (x_test, y_test))`, int32 images and int32 labels.

    Uses `run.settings["image_size"]`, `["levels"]`, `["pad_to"]` (optional)
    and keeps the first `["train_limit"]` / `["test_limit"]` images of each
    split (all of them when the limit is None).
    """
    from keras_ar.datasets.fashion_mnist import load_fashion_mnist_for_pixelcnn

    settings = run.settings
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist_for_pixelcnn(
        size=settings["image_size"],
        levels=settings["levels"],
        pad_to=settings.get("pad_to"),
        path=run.args.data,
    )
    train = slice(settings["train_limit"] or None)
    test = slice(settings["test_limit"] or None)
    x_train, y_train = x_train[train], y_train[train].astype("int32")
    x_test, y_test = x_test[test], y_test[test].astype("int32")
    run.announce(
        f"train={x_train.shape} test={x_test.shape} levels={settings['levels']}"
    )
    return (x_train, y_train), (x_test, y_test)


def sample_drawer(num_samples, **generate_kwargs):
    """`draw(model, seed)`: `num_samples` images from `model.generate` with
    the cache on (`generate_kwargs`, e.g. `labels`, go to `generate`)."""

    def draw(model, seed):
        return model.generate(
            num_samples=num_samples, seed=seed, use_cache=True, **generate_kwargs
        )

    return draw


def image_sample_writer(run, draw, **grid):
    """The `write_samples(model, epoch)` of an image recipe: a grid of
    `draw(model, seed)` (int images) in `samples/epoch_NNN.png`.

    `grid` goes to `save_image_grid` (e.g. `ncols`, `row_labels`).
    """
    samples_dir = ensure_out_dir(run.path("samples"))
    levels = run.settings["levels"]

    def write_samples(model, epoch):
        path = os.path.join(samples_dir, f"epoch_{epoch:03d}.png")
        images = draw(model, run.args.seed + epoch)
        return save_image_grid(images, path, levels, title=f"epoch {epoch}", **grid)

    return write_samples


def evaluate_image_model(run, model, x_test, given_class=False):
    """Test NLL of an image model (dict of floats, with "bits_per_dim" and
    "loss" in nats/dim), printed in bits/dim."""
    test = run.evaluate(model, x_test)
    bits = test["bits_per_dim"]
    if given_class:
        run.log(f"test NLL given the class: {bits:.4f} bits/dim")
    else:
        # The book reports none. A uniform model scores log2(levels).
        levels = run.settings["levels"]
        run.log(
            f"test NLL: {bits:.4f} bits/dim "
            f"(uniform over {levels} levels: {math.log2(levels):.1f})"
        )
    return test


def finish_image_recipe(
    run, model, test, num_train, num_test, draw, samples_title, curve_title,
    grid=None, **extra,
):  # fmt: skip
    """The end of an image recipe: model.keras, samples.png (a grid of
    `draw(model, seed)`, timed), the training curves and metrics.json with
    the test NLL, then the printed list of paths."""
    levels = run.settings["levels"]
    run.save_model(model)
    t0 = time.perf_counter()
    images = draw(model, run.args.seed)
    sample_seconds = time.perf_counter() - t0
    samples_path = save_image_grid(
        images, run.path("samples.png"), levels, title=samples_title, **(grid or {})
    )
    return run.finish(
        model, samples_path, curve_title, ["loss", "bits_per_dim"],
        test_bits_per_dim=test["bits_per_dim"],
        test_nats_per_dim=test["loss"],
        uniform_bits_per_dim=math.log2(levels),
        num_train=num_train,
        num_test=num_test,
        parameters=model.count_params(),
        sample_seconds=sample_seconds,
        **extra,
        samples_during_training=run.sampler.written,
    )  # fmt: skip
