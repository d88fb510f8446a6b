"""Shared code of the chapter-5 recipes, one concern per module.

Every recipe is a script with `main(argv)` that reads as "settings + model +
common steps":

1. `Run(recipe, parser, presets, argv)` (`run.py`) parses the common flags
   (`flags.build_parser`), picks the Keras backend (`flags.select_backend`,
   before Keras is imported), seeds everything and picks a settings dict:
   the book's (`--full`, the default), a reduced run that finishes on a
   laptop CPU (`--quick`) or a few batches of a tiny model for the tests
   (`--tiny`); `--epochs` and `--batch-size` override it;
2. the recipe loads its data (`images.load_fashion_mnist` for the image
   recipes) and builds its model (`run.compile_adam`);
3. `Run.fit` trains with a Keras progress bar, writing samples every few
   epochs (`make_sample_callback`, `images.image_sample_writer`) and timing
   each epoch (`make_epoch_timer`), backing up every epoch so that
   `--resume` continues a killed run (`resume`), and stopping with a clear
   message and exit status 1 on a NaN loss (`nan_guard`); `Run.evaluate`
   scores the held-out split;
4. `Run.finish` (or `images.finish_image_recipe`) writes to `--out`:
   `metrics.json` (`outputs.write_metrics`), `model.keras`,
   `training_curve.png` (`plots.plot_history`) and the samples, and ends by
   printing the paths it wrote (`outputs.print_outputs`).

A recipe declares its presets, model and titles (`declare.ImageRecipe`,
`declare.text_recipe_main`, with `declare.model_factory`) and these steps
run it.

Modules: `declare` (recipes as declarations), `flags` (command line, backend, presets), `outputs` (metrics.json,
printed paths), `plots` (curves, image grids), `run` (`Run` and its
callbacks), `resume` (backup and progress of resumable runs), `nan_guard`
(stopping on a NaN loss), `images` (the image recipes' data, samples and
evaluation), `text` (the text recipes' data, split, vocabulary, samples and
whole run).
None imports Keras or keras_ar at import time, so that `--backend` can still
choose the backend. Nothing in `keras_ar/` imports `recipes/`.
"""

from recipes.common.declare import (
    IMAGE_DATA_PRESETS,
    TEXT_DATA_PRESETS,
    ImageRecipe,
    model_factory,
    text_recipe_main,
    with_common,
)
from recipes.common.flags import (
    BACKENDS,
    FASHION_MNIST_DATA_HELP,
    MODES,
    REPO_ROOT,
    build_parser,
    default_data_file,
    fashion_mnist_parser,
    parse_args,
    select_backend,
    settings_for,
)
from recipes.common.images import (
    FASHION_MNIST_CLASSES,
    evaluate_image_model,
    finish_image_recipe,
    image_sample_writer,
    load_fashion_mnist,
    sample_drawer,
)
from recipes.common.nan_guard import NaNLossError, TrainingDiverged
from recipes.common.outputs import (
    ensure_out_dir,
    history_dict,
    print_outputs,
    write_metrics,
)
from recipes.common.plots import plot_history, save_image_grid
from recipes.common.run import (
    Run,
    compile_adam,
    make_epoch_timer,
    make_sample_callback,
    seed_everything,
    tiny_steps,
)
from recipes.common.text import run_text_recipe, text_parser

__all__ = [
    "BACKENDS",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DATA_HELP",
    "IMAGE_DATA_PRESETS",
    "ImageRecipe",
    "MODES",
    "NaNLossError",
    "REPO_ROOT",
    "TEXT_DATA_PRESETS",
    "Run",
    "TrainingDiverged",
    "build_parser",
    "compile_adam",
    "default_data_file",
    "ensure_out_dir",
    "evaluate_image_model",
    "fashion_mnist_parser",
    "finish_image_recipe",
    "history_dict",
    "image_sample_writer",
    "load_fashion_mnist",
    "make_epoch_timer",
    "make_sample_callback",
    "model_factory",
    "parse_args",
    "plot_history",
    "print_outputs",
    "sample_drawer",
    "save_image_grid",
    "run_text_recipe",
    "select_backend",
    "seed_everything",
    "settings_for",
    "text_parser",
    "text_recipe_main",
    "tiny_steps",
    "with_common",
    "write_metrics",
]
