"""Recipes as declarations: an image or text recipe names its presets, its
model and its titles, and one `main` here runs it.

An image recipe (Fashion-MNIST), on the data and schedule of
`IMAGE_DATA_PRESETS` plus its model's settings:

    PRESETS = with_common(IMAGE_DATA_PRESETS[4], full=..., quick=..., tiny=...)
    RECIPE = ImageRecipe(
        name="pixelcnn_fashion_mnist", doc=__doc__, presets=PRESETS,
        model=model_factory("PixelCNN", "levels", "filters", ...),
        titles=lambda s: ("PixelCNN samples", "PixelCNN, Fashion-MNIST"),
    )
    build_parser, main = RECIPE.build_parser, RECIPE.main

A text recipe (Epicurious) hands its presets and model to
`text.run_text_recipe` through `text_recipe_main`.

Nothing here imports Keras or keras_ar at import time (`--backend` still
chooses the backend).
"""

from recipes.common.flags import fashion_mnist_parser
from recipes.common.images import (
    evaluate_image_model,
    finish_image_recipe,
    image_sample_writer,
    load_fashion_mnist,
    sample_drawer,
)
from recipes.common.run import Run, compile_adam
from recipes.common.text import run_text_recipe


def model_factory(class_name, *keys, **fixed):
    """`build(settings, **kwargs)` -> a compiled `keras_ar.models.<class_name>`
    whose arguments are the settings named in `keys`, then `fixed`, then
    `kwargs` (what the data decides: the image shape, the vocabulary)."""

    def build(settings, **kwargs):
        import keras_ar.models

        model_class = getattr(keras_ar.models, class_name)
        model = model_class(**kwargs, **{k: settings[k] for k in keys}, **fixed)
        return compile_adam(model, settings)

    return build


def with_common(common_presets, **presets):
    """`{mode: {**common_presets[mode], **presets[mode]}}`: settings that
    several recipes share, plus each recipe's own."""
    return {mode: {**common_presets[mode], **own} for mode, own in presets.items()}


class ImageRecipe:
    """A Fashion-MNIST image recipe.

    Args:
        name: the recipe's name (output folder, metrics.json).
        doc: its module docstring (its first line is the --help).
        presets: `{"full": ..., "quick": ..., "tiny": ...}` settings dicts
            (with image_size, levels, learning_rate, batch_size, epochs,
            train_limit, test_limit, sample_every and num_samples, or
            samples_per_class with `class_names`); with `preset_flag`, one
            such dict per value of that flag.
        model: `model(settings, image_shape=...)` -> a compiled model
            (`model_factory`).
        titles: `titles(settings)` -> (samples title, curve title).
        flags: extra `parser.add_argument` calls, as `(args, kwargs)` pairs.
        preset_flag: the flag whose value picks the presets (parsed first).
        overrides: flags that, when given, replace the setting of that name.
        class_names: for a class-conditional model: one sample row per class.
    """

    def __init__(
        self, name, doc, presets, model, titles, flags=(), preset_flag=None,
        overrides=(), class_names=None,
    ):  # fmt: skip
        self.name, self.doc, self.presets = name, doc, presets
        self.model, self.titles, self.flags = model, titles, flags
        self.preset_flag, self.overrides = preset_flag, overrides
        self.class_names = class_names

    def build_parser(self):
        parser = fashion_mnist_parser(self.doc, self.name)
        for args, kwargs in self.flags:
            parser.add_argument(*args, **kwargs)
        return parser

    def main(self, argv=None):
        parser = self.build_parser()
        presets = self.presets
        if self.preset_flag is not None:
            # The presets depend on this flag: parse it first (no Keras yet).
            value = getattr(parser.parse_known_args(argv)[0], self.preset_flag)
            presets = presets[value]
        run = Run(self.name, parser, presets, argv)
        settings = run.settings
        for flag in self.overrides:
            if getattr(run.args, flag) is not None:
                settings[flag] = getattr(run.args, flag)
        (x_train, y_train), (x_test, y_test) = load_fashion_mnist(run)
        # The side after any padding (`pad_to`).
        side = x_train.shape[1]
        extra = {}
        if self.class_names is not None:
            extra["num_classes"] = len(self.class_names)
        model = self.model(settings, image_shape=(side, side, 1), **extra)
        if run.args.verbose:
            model.summary()

        finish, grid = {}, {}
        if self.class_names is None:
            draw = sample_drawer(settings["num_samples"])
            train, test = x_train, x_test
        else:
            # Every sample grid has one labelled row per class.
            import numpy as np

            k = settings["samples_per_class"]
            labels = np.repeat(np.arange(len(self.class_names), dtype="int32"), k)
            grid = dict(ncols=k, row_labels=self.class_names)
            draw = sample_drawer(len(labels), labels=labels)
            train = {"inputs": x_train, "labels": y_train}
            test = {"inputs": x_test, "labels": y_test}
            finish = dict(grid=grid, class_names=list(self.class_names))
        run.fit(model, train, test, image_sample_writer(run, draw, **grid))
        given_class = self.class_names is not None
        test_nll = evaluate_image_model(run, model, test, given_class=given_class)
        samples_title, curve_title = self.titles(settings)
        return finish_image_recipe(
            run, model, test_nll, len(x_train), len(x_test), draw,
            samples_title=samples_title, curve_title=curve_title, **finish,
        )  # fmt: skip


def text_recipe_main(name, doc, presets, model, curve_title, requires=None):
    """`main(argv)` of a text recipe: `text.run_text_recipe` with a model
    from `model_factory` (given the vocabulary size and the tokenizer);
    `requires` (`{module: extra}`) names what it needs beyond the text
    recipes' own packages."""

    def build_model(settings, vocab_size, tokenizer=None):
        return model(settings, vocab_size=vocab_size, tokenizer=tokenizer)

    def main(argv=None):
        return run_text_recipe(
            name, doc, presets, argv, build_model, curve_title, requires=requires
        )

    return main


#: The text recipes' data, schedule and sampling settings per mode (the
#: book's for "full"); each recipe adds its model's and its learning rate.
TEXT_DATA_PRESETS = {
    "full": dict(
        vocab_size=10000, sequence_length=200, batch_size=32, epochs=25,
        max_recipes=None, validation_split=0.2, generate_tokens=100,
        samples_per_temperature=3, probs_tokens=10, probs_top=5, sample_every=1,
    ),
    # At most 400 recipes with a 5000-word vocabulary: smaller batches take
    # enough steps in 40 short epochs to get past word frequencies (the
    # default 158-recipe sample fits whole).
    "quick": dict(
        vocab_size=5000, sequence_length=200, batch_size=16, epochs=40,
        max_recipes=400, validation_split=0.2, generate_tokens=60,
        samples_per_temperature=3, probs_tokens=10, probs_top=5, sample_every=5,
    ),
    # A few batches of a tiny model, for the tests.
    "tiny": dict(
        vocab_size=200, sequence_length=24, learning_rate=1e-2, batch_size=8,
        epochs=2, max_recipes=32, validation_split=0.2, generate_tokens=6,
        samples_per_temperature=1, probs_tokens=1, probs_top=3, sample_every=1,
    ),
}  # fmt: skip


# A few batches of 8x8 images, for the tests, whatever the levels.
_TINY_IMAGE_DATA = dict(
    image_size=8, learning_rate=1e-3, batch_size=16, epochs=2, train_limit=32,
    test_limit=16, sample_every=1,
)  # fmt: skip

#: The image recipes' data and schedule per mode, by number of levels (each
#: recipe adds its model's settings and its sample count, and may change a
#: value): 4, the book's PixelCNN data (16x16, its optimizer and schedule for
#: "full"); 256, the data of the book's mixture PixelCNN (28x28, its
#: schedule for "full"). Shared so that the recipes on one data set compare
#: like for like.
_FULL_4 = dict(
    image_size=16, levels=4, learning_rate=5e-4, batch_size=128, epochs=150,
    train_limit=None, test_limit=None, sample_every=10,
)  # fmt: skip
_FULL_256 = dict(
    image_size=28, levels=256, learning_rate=1e-3, batch_size=128, epochs=10,
    train_limit=None, test_limit=None, sample_every=2,
)  # fmt: skip
IMAGE_DATA_PRESETS = {
    4: {
        "full": _FULL_4,
        # A fifth of the training set for a few epochs: minutes on 2 CPU cores.
        "quick": dict(
            _FULL_4, learning_rate=1e-3, epochs=4, train_limit=12000,
            test_limit=2000, sample_every=1,
        ),
        "tiny": dict(_TINY_IMAGE_DATA, levels=4),
    },
    256: {
        "full": _FULL_256,
        # 3000 training images for 3 epochs.
        "quick": dict(
            _FULL_256, learning_rate=2e-3, batch_size=64, epochs=3,
            train_limit=3000, test_limit=500, sample_every=1,
        ),
        "tiny": dict(_TINY_IMAGE_DATA, levels=256),
    },
}  # fmt: skip
