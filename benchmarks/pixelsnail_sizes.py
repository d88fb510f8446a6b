"""PixelSNAIL: cached against uncached `generate` at several image sizes.

The uncached path runs a whole forward pass per generated pixel (quadratic
in the number of pixels), the cached path one pixel's worth of convolutions
plus attention over the pixels before it, so the gap should grow with the
image size. Same model settings as `generate.py --cases pixelsnail`.

    KERAS_BACKEND=jax python benchmarks/pixelsnail_sizes.py --sizes 7,14,28
"""

import argparse
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="7,14,28")
    parser.add_argument("--num-samples", type=int, default=4)
    args = parser.parse_args()
    import keras

    from keras_ar.models.pixel_snail import PixelSNAIL

    print(f"backend {keras.backend.backend()}, {args.num_samples} samples")
    print("| size | cached s | uncached s | cached vs uncached |")
    print("|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        model = PixelSNAIL(
            (size, size, 1), levels=256, num_mixtures=5, num_filters=64,
            num_blocks=2, num_resnet=2, value_dim=32, dropout_rate=0.0,
        )  # fmt: skip
        seconds = {}
        for use_cache in (True, False):

            def run(use_cache=use_cache, model=model):
                model.generate(
                    num_samples=args.num_samples, seed=0, use_cache=use_cache, verbose=0
                )

            run()  # compile
            start = time.perf_counter()
            run()
            seconds[use_cache] = time.perf_counter() - start
        print(
            f"| {size}x{size} | {seconds[True]:.3g} | {seconds[False]:.3g} "
            f"| {seconds[False] / seconds[True]:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
