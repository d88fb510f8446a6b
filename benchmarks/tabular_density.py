"""Tabular density estimation: MADE-MoG against two scikit-learn baselines.

Test log-likelihood, in nats per example, of real-valued tables that ship
with scikit-learn (no download): `wine` (178 x 13), `breast_cancer`
(569 x 30) and `diabetes` (442 x 9: its binary `sex` column is left out, a
density over a two-valued column is unbounded). Each table is split 80/20
into train and test (fixed seed) and standardized with the training
statistics; every model sees the same standardized data, so the figures
compare directly (they are log-densities of the standardized values).

- full-covariance Gaussian: the maximum-likelihood mean and covariance of
  the training set (plus 1e-6 on the diagonal);
- Gaussian mixture: `sklearn.mixture.GaussianMixture`, its number of
  components (1, 2, 4, 8) and covariance type (full, diag) chosen on a
  validation split of the training set (the last 20%), then refit on the
  whole training set;
- keras_ar `MADEMoG`: one hidden layer, a mixture of Gaussians per
  dimension, trained with the default NLL loss (AdamW) on the same 80% of
  the training set, early-stopped on the same validation 20% (best weights
  kept), and scored on the test set.

    KERAS_BACKEND=jax python benchmarks/tabular_density.py --out runs/tabular
    python benchmarks/tabular_density.py --backend torch --datasets wine

Writes results.json and results.md under --out. These are measurements,
not tests: nothing here asserts a figure.
"""

import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

DATASETS = ("wine", "breast_cancer", "diabetes")
SETTINGS = {
    "full": dict(hidden_units=(128,), num_components=5, epochs=1000, patience=50),
    "quick": dict(hidden_units=(64,), num_components=3, epochs=400, patience=30),
    "tiny": dict(hidden_units=(8,), num_components=2, epochs=2, patience=1),
}


def load(name, seed):
    """`(train, test)` float64, standardized with the training statistics."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name == "diabetes":
        # scaled=False: the raw measurements; column 1 is the binary sex.
        x = datasets.load_diabetes(scaled=False).data
        x = np.delete(x, 1, axis=1)
    else:
        x = getattr(datasets, f"load_{name}")().data
    train, test = train_test_split(
        x.astype("float64"), test_size=0.2, random_state=seed
    )
    mean, std = train.mean(0), train.std(0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def gaussian_log_lik(train, test):
    from scipy.stats import multivariate_normal

    cov = np.cov(train, rowvar=False, bias=True) + 1e-6 * np.eye(train.shape[1])
    return multivariate_normal(train.mean(0), cov).logpdf(test)


def mixture_log_lik(train, test, fit, val, seed):
    from sklearn.mixture import GaussianMixture

    best = None
    for kind in ("full", "diag"):
        for k in (1, 2, 4, 8):
            if k * (train.shape[1] + 1) > len(fit):
                continue
            model = GaussianMixture(k, covariance_type=kind, reg_covar=1e-6,
                                    random_state=seed, n_init=2).fit(fit)  # fmt: skip
            score = model.score(val)
            if best is None or score > best[0]:
                best = (score, k, kind)
    _, k, kind = best
    model = GaussianMixture(k, covariance_type=kind, reg_covar=1e-6,
                            random_state=seed, n_init=2).fit(train)  # fmt: skip
    return model.score_samples(test), {"components": k, "covariance": kind}


def made_mog_log_lik(fit, val, test, settings, seed):
    import keras

    from keras_ar.models import MADEMoG

    keras.utils.set_random_seed(seed)
    model = MADEMoG(
        input_dim=fit.shape[1],
        num_components=settings["num_components"],
        hidden_units=settings["hidden_units"],
        seed=seed,
    )
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-2))
    stop = keras.callbacks.EarlyStopping(
        patience=settings["patience"], restore_best_weights=True
    )
    start = time.time()
    history = model.fit(
        fit.astype("float32"),
        validation_data=(val.astype("float32"),),
        epochs=settings["epochs"],
        batch_size=32,
        callbacks=[stop],
        verbose=0,
    )
    seconds = time.time() - start
    extra = {"epochs_run": len(history.history["loss"]), "train_seconds": seconds}
    return model.log_prob(test.astype("float32")), extra


def summary(log_lik):
    log_lik = np.asarray(log_lik, "float64")
    return {
        "test_loglik": float(log_lik.mean()),
        "stderr": float(log_lik.std(ddof=1) / np.sqrt(len(log_lik))),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("runs", "tabular_density"))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--mode", default="quick", choices=tuple(SETTINGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=("tensorflow", "jax", "torch"))
    args = parser.parse_args(argv)
    names = [n for n in args.datasets.split(",") if n]
    if not names or set(names) - set(DATASETS):
        parser.error(f"--datasets must name some of {', '.join(DATASETS)}")
    if args.backend:
        if "keras" in sys.modules:
            parser.error("--backend: Keras is already imported in this process")
        os.environ["KERAS_BACKEND"] = args.backend
    import keras

    backend = keras.backend.backend()
    settings = SETTINGS[args.mode]
    rows = []
    for name in names:
        train, test = load(name, args.seed)
        cut = int(0.8 * len(train))
        fit, val = train[:cut], train[cut:]
        gauss = summary(gaussian_log_lik(train, test))
        mixture, chosen = mixture_log_lik(train, test, fit, val, args.seed)
        made, extra = made_mog_log_lik(fit, val, test, settings, args.seed)
        base = {"dataset": name, "n_train": len(train), "n_test": len(test),
                "dims": train.shape[1]}  # fmt: skip
        rows += [
            {**base, "model": "full-covariance Gaussian", **gauss},
            {
                **base,
                "model": f"GaussianMixture ({chosen['components']}, "
                f"{chosen['covariance']})",
                **summary(mixture),
            },  # fmt: skip
            {**base, "model": "keras_ar MADEMoG", **summary(made), **extra},
        ]
        print(name, [(r["model"], round(r["test_loglik"], 3)) for r in rows[-3:]])
    os.makedirs(args.out, exist_ok=True)
    lines = [
        f"Backend: {backend}, mode {args.mode}, seed {args.seed}. Test "
        "log-likelihood in nats per example (standardized data; higher is "
        "better), +- one standard error over the test examples.",
        "",
        "| data set | N train / test | D | model | test log-lik |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['n_train']} / {r['n_test']} | {r['dims']} | "
            f"{r['model']} | {r['test_loglik']:.2f} +- {r['stderr']:.2f} |"
        )
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"backend": backend, "mode": args.mode, "settings": settings,
                   "rows": rows}, f, indent=2)  # fmt: skip
    print("\n".join(lines))
    return rows


if __name__ == "__main__":
    main()
