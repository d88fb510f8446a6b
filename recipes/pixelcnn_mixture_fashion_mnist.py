"""Mixture-distribution PixelCNN on Fashion-MNIST: "Generative Deep
Learning" (2nd ed.), ch. 5.

The book's last chapter-5 model is TensorFlow Probability's `PixelCNN`
(PixelCNN++, Salimans et al., 2017): each pixel's 256 intensities come from a
mixture of 5 discretized logistics instead of a 256-way softmax. Its
settings: Fashion-MNIST padded from 28x28 to 32x32, all 256 levels,
num_resnet=1, num_hierarchies=2, num_filters=32, dropout 0.3, Adam 1e-3,
batch 128, 10 epochs. This recipe builds the same network with keras_ar's
`PixelCNNPlusPlus` (on any backend) and reports the test NLL in bits/dim
(a uniform model scores 8).

Run:

    python recipes/pixelcnn_mixture_fashion_mnist.py --quick --out runs/mixture_quick
    python recipes/pixelcnn_mixture_fashion_mnist.py --out runs/mixture  # GPU

Outputs in --out: metrics.json, model.keras, training_curve.png,
samples/epoch_NNN.png (during training) and samples.png.
"""

import os
import sys
import time

if __package__ in (None, ""):
    # Run as a script: make `recipes` and `keras_ar` importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes import common

RECIPE = "pixelcnn_mixture_fashion_mnist"

PRESETS = {
    # The book's settings (TFP PixelCNN).
    "full": dict(
        image_size=28, pad_to=32, levels=256, num_mixtures=5, num_resnet=1,
        num_hierarchies=2, num_filters=32, dropout_rate=0.3,
        learning_rate=1e-3, batch_size=128, epochs=10, train_limit=None,
        test_limit=None, num_samples=16, sample_every=2,
    ),
    # The book's data and network shape with half the filters, on 3000
    # training images for 3 epochs.
    "quick": dict(
        image_size=28, pad_to=32, levels=256, num_mixtures=5, num_resnet=1,
        num_hierarchies=2, num_filters=16, dropout_rate=0.3,
        learning_rate=2e-3, batch_size=64, epochs=3, train_limit=3000,
        test_limit=500, num_samples=16, sample_every=1,
    ),
    # A few batches of a tiny model, for the tests.
    "tiny": dict(
        image_size=8, pad_to=None, levels=256, num_mixtures=2, num_resnet=1,
        num_hierarchies=1, num_filters=4, dropout_rate=0.3,
        learning_rate=1e-3, batch_size=16, epochs=2, train_limit=32,
        test_limit=16, num_samples=4, sample_every=1,
    ),
}  # fmt: skip


def build_parser():
    return common.build_parser(
        description=__doc__.splitlines()[0],
        default_out=os.path.join("runs", RECIPE),
        data_help=(
            "directory holding the four Fashion-MNIST IDX files (default: "
            "$KERAS_AR_DATA, /usr/share/datasets/fashion-mnist, the Keras "
            "cache, else a download)"
        ),
    )


def load_data(args, settings):
    from keras_ar.datasets.fashion_mnist import load_fashion_mnist_for_pixelcnn

    (x_train, _), (x_test, _) = load_fashion_mnist_for_pixelcnn(
        size=settings["image_size"],
        levels=settings["levels"],
        pad_to=settings["pad_to"],
        path=args.data,
    )
    if settings["train_limit"]:
        x_train = x_train[: settings["train_limit"]]
    if settings["test_limit"]:
        x_test = x_test[: settings["test_limit"]]
    return x_train, x_test


def build_model(settings, side):
    import keras

    from keras_ar.models.pixelcnn_plus_plus import PixelCNNPlusPlus

    model = PixelCNNPlusPlus(
        image_shape=(side, side, 1),
        levels=settings["levels"],
        num_mixtures=settings["num_mixtures"],
        num_filters=settings["num_filters"],
        num_resnet=settings["num_resnet"],
        num_hierarchies=settings["num_hierarchies"],
        dropout_rate=settings["dropout_rate"],
    )
    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]))
    return model


def main(argv=None):
    wall_start = time.perf_counter()
    args = common.parse_args(build_parser(), argv)
    settings = common.settings_for(args, PRESETS)
    common.seed_everything(args.seed)
    out = common.ensure_out_dir(args.out)
    samples_dir = common.ensure_out_dir(os.path.join(out, "samples"))

    x_train, x_test = load_data(args, settings)
    print(
        f"[{RECIPE}] backend={args.backend} mode={args.mode} "
        f"train={x_train.shape} test={x_test.shape} levels={settings['levels']}"
    )
    model = build_model(settings, x_train.shape[1])
    if args.verbose:
        model.summary()

    levels = settings["levels"]
    n = settings["num_samples"]

    def write_samples(model, epoch):
        images = model.generate(num_samples=n, seed=args.seed + epoch, use_cache=True)
        path = os.path.join(samples_dir, f"epoch_{epoch:03d}.png")
        return common.save_image_grid(images, path, levels, title=f"epoch {epoch}")

    timer = common.make_epoch_timer()
    sampler = common.make_sample_callback(
        write_samples, settings["sample_every"], settings["epochs"]
    )
    history = model.fit(
        x_train,
        batch_size=settings["batch_size"],
        epochs=settings["epochs"],
        validation_data=(x_test,),
        callbacks=[timer, sampler],
        verbose=args.verbose,
    )
    test = model.evaluate(
        x_test, batch_size=settings["batch_size"], verbose=0, return_dict=True
    )
    test_bits = float(test["bits_per_dim"])
    print(
        f"[{RECIPE}] test NLL: {test_bits:.4f} bits/dim "
        f"(uniform over {levels} levels: {common.math.log2(levels):.1f})"
    )

    paths = []
    model_path = os.path.join(out, "model.keras")
    model.save(model_path)
    paths.append(model_path)
    t0 = time.perf_counter()
    images = model.generate(num_samples=n, seed=args.seed, use_cache=True)
    sample_seconds = time.perf_counter() - t0
    samples_path = common.save_image_grid(
        images,
        os.path.join(out, "samples.png"),
        levels,
        title=f"PixelCNN++ samples ({settings['num_mixtures']} logistics)",
    )
    paths.append(
        common.plot_history(
            history,
            os.path.join(out, "training_curve.png"),
            "Mixture PixelCNN (PixelCNN++), Fashion-MNIST",
            keys=["loss", "bits_per_dim"],
        )
    )
    metrics_path, _ = common.write_metrics(
        out, RECIPE, args, settings, history, timer, wall_start,
        test_bits_per_dim=test_bits,
        test_nats_per_dim=float(test["loss"]),
        uniform_bits_per_dim=common.math.log2(levels),
        num_train=len(x_train),
        num_test=len(x_test),
        parameters=model.count_params(),
        sample_seconds=sample_seconds,
        samples_during_training=sampler.written,
    )  # fmt: skip
    paths.insert(0, metrics_path)
    paths += sampler.written
    common.print_outputs(paths, last=samples_path)
    return {
        "metrics": metrics_path,
        "model": model_path,
        "samples": samples_path,
        "trained_model": model,
    }


if __name__ == "__main__":
    main(sys.argv[1:])
