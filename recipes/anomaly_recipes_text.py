"""Anomaly detection on text: an LSTM trained on Epicurious recipes scores
held-out recipes (normal) against text that is not a recipe.

The anomalous sets, each as many texts as the held-out recipes:

- "shuffled": each held-out recipe with its words in a random order (the
  same words, so the same unigram statistics);
- "reversed": each held-out recipe read backwards;
- "random words": words drawn uniformly from the vocabulary, as many as the
  recipe has;
- "repeated": the recipe's first ten words over and over, to its length (a
  simpler text than a recipe, made of recipe words: the kind of input a
  raw likelihood can rank as *more* normal);
- "Python docs": English prose that is not a recipe, paragraphs of
  Python's own documentation (`pydoc_data.topics`, part of every CPython),
  tokenized with the recipes' vocabulary (most of their words are then
  the out-of-vocabulary token).

Scores, in bits per token (the end of each text counted, as in training),
oriented so that higher means more anomalous: the raw NLL; the likelihood
ratio with a background model trained on recipes with a fraction `mu` of
their words replaced at random (Ren et al., 2019); and the input-complexity
score with LZMA as the generic compressor (Serra et al., 2020).

Run:

    python recipes/anomaly_recipes_text.py --quick --out runs/anomaly_text
    python recipes/anomaly_recipes_text.py --data full_format_recipes.json

`--data` is the Epicurious JSON (Kaggle's full_format_recipes.json schema;
default ../shared/data/epicurious_sample_158.json next to the repository,
when present). Outputs in --out: results.json and results.md (the table),
roc_<score>.png (ROC curves), token_nll.txt (the words of one text of each
set with their bits), model.keras and background.keras.
"""

import os
import sys
import time

if __package__ in (None, ""):
    # Run as a script: make `recipes` and `keras_ar` importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes import common
from recipes.common.outputs import detection_table, write_results
from recipes.common.text import start_text_run

RECIPE = "anomaly_recipes_text"
METHODS = ("nll", "likelihood_ratio", "complexity")
LABELS = {
    "nll": "raw NLL",
    "likelihood_ratio": "likelihood ratio",
    "complexity": "complexity (LZMA)",
}
SETS = ("shuffled", "reversed", "random words", "repeated", "Python docs")

_MODEL = dict(embedding_dim=100, units=128, mu=0.1, weight_decay=1e-4)
PRESETS = common.with_common(
    common.TEXT_DATA_PRESETS,
    full=dict(_MODEL, learning_rate=1e-3, background_epochs=25),
    quick=dict(_MODEL, learning_rate=5e-3, background_epochs=40),
    tiny=dict(embedding_dim=8, units=8, mu=0.1, weight_decay=0.0, background_epochs=1),
)


def build_model(settings, vocab_size, tokenizer=None):
    from keras_ar.models.recurrent_lm import RecurrentLM

    model = RecurrentLM(
        vocab_size=vocab_size,
        sequence_length=settings["sequence_length"],
        embedding_dim=settings["embedding_dim"],
        units=settings["units"],
        pad_token_id=0,
        tokenizer=tokenizer,
    )
    return common.compile_adam(model, {"learning_rate": settings["learning_rate"]})


def text_lengths(x):
    """Words before the end (the first pad, id 0) of each row."""
    import numpy as np

    ended = x == 0
    return np.where(ended.any(axis=1), ended.argmax(axis=1), x.shape[1])


def anomalous_sets(x_normal, vectorizer, vocab_size, rng):
    """`{name: ids}`: the sets of the module docstring, from the held-out
    recipes `x_normal`."""
    import numpy as np

    lengths = text_lengths(x_normal)
    shuffled, reversed_, random_words, repeated = (np.zeros_like(x_normal) for _ in range(4))
    for i, n in enumerate(lengths):
        words = x_normal[i, :n]
        shuffled[i, :n] = rng.permutation(words)
        reversed_[i, :n] = words[::-1]
        # Ids 0 and 1 are the pad (the end) and the out-of-vocabulary token.
        random_words[i, :n] = rng.integers(2, vocab_size, n)
        repeated[i, :n] = np.resize(words[:10], n)
    return {
        "shuffled": shuffled,
        "reversed": reversed_,
        "random words": random_words,
        "repeated": repeated,
        "Python docs": python_docs(vectorizer, len(x_normal), rng),
    }


def python_docs(vectorizer, count, rng):
    """`count` paragraphs (of at least 20 words) of the Python documentation
    that ships with CPython, as ids in the recipes' vocabulary."""
    from pydoc_data.topics import topics

    import numpy as np

    from keras_ar.datasets.epicurious import pad_punctuation, texts_to_ids

    paragraphs = [
        " ".join(p.split())
        for name in sorted(topics)
        for p in topics[name].split("\n\n")
        if len(p.split()) >= 20
    ]
    chosen = rng.choice(len(paragraphs), size=count, replace=count > len(paragraphs))
    return texts_to_ids(vectorizer, [pad_punctuation(paragraphs[i]) for i in chosen]).astype(
        np.int32
    )


def token_report(model, sets, vocab):
    """One text of each set, word by word with its bits (`nll_map`)."""
    from keras_ar import anomaly

    lines = []
    for name, x in sets.items():
        row = x[:1]
        bits = anomaly.nll_map(model, row)[0]
        n = int(text_lengths(row)[0])
        words = [vocab[i] for i in row[0, :n]] + (["<end>"] if n < row.shape[1] else [])
        lines.append(f"=== {name}: {bits[: len(words)].sum() / len(words):.2f} bits/token ===")
        lines.append(" ".join(f"{w}[{b:.1f}]" for w, b in zip(words, bits)))
        lines.append("")
    return "\n".join(lines)


def markdown(results):
    lines = [
        f"Model: LSTM trained on {results['num_train']} recipes; "
        f"{results['num_test']} held-out recipes as normal, "
        f"{results['test_mean_nll_bits_per_token']:.3f} bits/token.",
        "",
        *detection_table(
            results["sets"], METHODS, LABELS, "mean_nll_bits_per_token", "set", "bits/token"
        ),
    ]
    return "\n".join(lines)


def main(argv=None):
    run, vectorizer, x_train, x_test, _ = start_text_run(RECIPE, __doc__, PRESETS, argv)
    args, settings = run.args, run.settings
    vocab = vectorizer.get_vocabulary()
    import keras
    import numpy as np

    from keras_ar import anomaly

    keras.utils.set_random_seed(args.seed)
    model = build_model(settings, len(vocab), tokenizer=vectorizer)
    t0 = time.perf_counter()
    history = model.fit(
        x_train, batch_size=settings["batch_size"], epochs=settings["epochs"],
        shuffle=True, verbose=args.verbose,
    )  # fmt: skip
    training = {
        "train_seconds": time.perf_counter() - t0,
        "final_train_bits_per_token": float(history.history["bits_per_dim"][-1]),
    }
    run.log(f"training the background model (mu={settings['mu']})")
    t0 = time.perf_counter()
    background = anomaly.train_background_model(
        model, x_train, mu=settings["mu"], epochs=settings["background_epochs"],
        batch_size=settings["batch_size"], learning_rate=settings["learning_rate"],
        weight_decay=settings["weight_decay"], seed=args.seed, verbose=args.verbose,
    )  # fmt: skip
    training["background_train_seconds"] = time.perf_counter() - t0
    for name, saved in (("model.keras", model), ("background.keras", background)):
        saved.save(run.path(name))
        run.paths.append(run.path(name))

    sets = anomalous_sets(x_test, vectorizer, len(vocab), np.random.default_rng(args.seed))
    batch = settings["batch_size"]

    def scores(x):
        return anomaly.anomaly_scores(model, x, background, codec="lzma", batch_size=batch)

    normal = scores(x_test)
    rows, curves = {}, {m: {} for m in METHODS}
    for name, x_out in sets.items():
        out = scores(x_out)
        rows[name] = {
            "mean_nll_bits_per_token": float(out["nll"].mean()),
            **{m: anomaly.detection_metrics(normal[m], out[m]) for m in METHODS},
        }
        for m in METHODS:
            curves[m][name] = (normal[m], out[m])
        run.log(
            f"{name}: AUROC "
            + ", ".join(f"{LABELS[m]} {rows[name][m]['auroc']:.3f}" for m in METHODS)
        )
    for m in METHODS:
        run.paths.append(
            anomaly.plot_roc_curves(
                curves[m], run.path(f"roc_{m}.png"), title=f"score: {LABELS[m]}"
            )
        )
    report_path = run.path("token_nll.txt")
    with open(report_path, "w") as f:
        f.write(token_report(model, {"held-out recipe": x_test, **sets}, vocab))
    run.paths.append(report_path)

    results = {
        "num_train": len(x_train),
        "num_test": len(x_test),
        "vocabulary": len(vocab),
        "test_mean_nll_bits_per_token": float(normal["nll"].mean()),
        **training,
        "sets": rows,
    }
    table = markdown(results)
    json_path, md_path, payload = write_results(run, results, table)
    print(table)
    common.print_outputs([json_path, md_path, *run.paths])
    return {"results": json_path, "table": md_path, "metrics": payload}


if __name__ == "__main__":
    main(sys.argv[1:])
