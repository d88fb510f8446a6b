"""The text recipes' shared steps (the Epicurious recipe generators).

Every text recipe (`lstm_recipes.py`, `transformer_recipes.py`) reads the
same recipes, holds out the same 20% (the book's VALIDATION_SPLIT, drawn
with `--seed`), builds the same `TextVectorization` vocabulary from the
training recipes alone, and writes the same outputs, so that their
validation perplexities (per word, the end of each recipe counted) compare
like for like. A recipe supplies its settings and `build_model(settings,
vocab_size, tokenizer)`; `run_text_recipe` does the rest:

- `metrics.json`, `model.keras` (with its vocabulary: `keras.saving.
  load_model` gives back a model that generates from text),
  `training_curve.png`;
- `generated_during_training.txt` (the book's `TextGenerator` callback:
  "recipe for" at temperature 1.0 every `sample_every` epochs);
- `samples.txt` (temperatures 0.2, 0.5 and 1.0, each recipe up to its end
  or `sequence_length` tokens, then one from the reloaded `model.keras`);
- `next_word_probs.txt` (the book's prompts and next-word tables).

Imports neither Keras nor keras_ar at import time.
"""

import os

from recipes.common.flags import build_parser, cli_error, default_data_file
from recipes.common.run import Run

DEFAULT_DATA = "shared/data/epicurious_sample_158.json"
#: Where the book's data set comes from (it is not in the repository).
DATA_SOURCE = (
    "full_format_recipes.json from Kaggle's \"Epicurious - Recipes with Rating "
    'and Nutrition" data set (kaggle.com/datasets/hugodarwood/epirecipes)'
)
#: What every text recipe needs beyond keras_ar: TextVectorization runs on
#: TensorFlow whatever the backend.
TEXT_REQUIREMENTS = {"tensorflow": "tensorflow"}
TRAINING_PROMPT = "recipe for"
# The book's prompts for its next-word probability tables.
BOOK_PROMPTS = (
    "recipe for roasted vegetables | chop 1 /",
    "recipe for chocolate ice cream |",
)
BOOK_TEMPERATURES = (1.0, 0.2)
SAMPLE_TEMPERATURES = (0.2, 0.5, 1.0)


def text_parser(doc, recipe):
    """The common flags, with the Epicurious data as `--data`."""
    return build_parser(
        description=doc.splitlines()[0],
        default_out=os.path.join("runs", recipe),
        default_data=default_data_file(DEFAULT_DATA),
        data_help=(
            "Epicurious JSON in the Kaggle full_format_recipes.json schema "
            f"(default: ../{DEFAULT_DATA} next to the repository, if present)"
        ),
    )


def load_data(args, settings):
    """`(vectorizer, x_train, x_val, num_recipes)`: ids `(N, sequence_length)`."""
    import numpy as np

    from keras_ar.datasets.epicurious import (
        load_epicurious,
        make_text_vectorization,
        pad_punctuation,
        texts_to_ids,
    )

    texts = [pad_punctuation(t) for t in load_epicurious(args.data)]
    if settings["max_recipes"]:
        texts = texts[: settings["max_recipes"]]
    if len(texts) < 2:
        raise ValueError(
            f"{args.data}: {len(texts)} usable recipe(s); need at least 2 "
            "(one to train on, one to validate on)"
        )
    # Hold out the book's VALIDATION_SPLIT (a random 20%) before building the
    # vocabulary, so that validation words can be out-of-vocabulary as they
    # would be for new text.
    order = np.random.default_rng(args.seed).permutation(len(texts))
    num_val = max(1, int(round(settings["validation_split"] * len(texts))))
    val_texts = [texts[i] for i in order[:num_val]]
    train_texts = [texts[i] for i in order[num_val:]]
    vectorizer = make_text_vectorization(
        train_texts,
        vocab_size=settings["vocab_size"],
        sequence_length=settings["sequence_length"],
    )
    x_train = texts_to_ids(vectorizer, train_texts)
    x_val = texts_to_ids(vectorizer, val_texts)
    return vectorizer, x_train, x_val, len(texts)


def generate_text(
    model, prompt, num_tokens, temperature, seed, num_samples=1, max_length=None
):
    """`num_samples` continuations of `prompt` by at most `num_tokens` words
    (or up to `max_length` tokens in all), each ending at its end token."""
    prompt_ids = model.encode(prompt)
    return model.generate(
        prompt=prompt_ids[None],
        num_samples=num_samples,
        max_length=max_length or len(prompt_ids) + num_tokens,
        temperature=temperature,
        seed=seed,
        use_cache=True,
    )


def next_word_table(model, prompt, temperature, num_tokens, top, seed):
    """The book's `print_probs`: generate `num_tokens` words after `prompt`,
    showing before each one the `top` most likely next words (the end of the
    recipe, id 0, shown as [end])."""
    import numpy as np

    ids = generate_text(model, prompt, num_tokens, temperature, seed)[0]
    start = len(model.encode(prompt))
    # Up to and including the end of the text, if the model ended it.
    ends = np.flatnonzero(ids[start:] == 0)
    if ends.size:
        ids = ids[: start + ends[0] + 1]
    lines = [f"=== prompt: {prompt!r}, temperature {temperature} ==="]
    for k in range(start, len(ids)):
        lines.append(f"\nPROMPT: {model.decode(ids[:k])}")
        for word, prob in model.next_token_probs(
            ids[:k], top=top, temperature=temperature
        ):
            lines.append(f"{word or '[end]'}:   \t{100 * prob:.2f}%")
    lines.append(f"\nGENERATED: {model.decode(ids)}\n")
    return "\n".join(lines)


def check_data(path):
    """Ends the run with one `error:` line when the recipes file is not
    given or not there (before any work)."""
    if path is None:
        cli_error(
            f"no Epicurious data: download {DATA_SOURCE} and pass it with "
            "--data full_format_recipes.json"
        )
    if not os.path.isfile(path):
        cli_error(
            f"--data {path!r} is not a file: pass {DATA_SOURCE} "
            "with --data full_format_recipes.json"
        )


def start_text_run(recipe, doc, presets, argv, requires=None):
    """The start every Epicurious recipe shares: the run (flags, settings,
    requirements, `--out`), the data checked and split, the vocabulary
    built on the training recipes; returns `(run, vectorizer, x_train,
    x_held_out, num_recipes)`."""
    run = Run(
        recipe,
        text_parser(doc, recipe),
        presets,
        argv,
        requires={**TEXT_REQUIREMENTS, **(requires or {})},
    )
    check_data(run.args.data)
    vectorizer, x_train, x_held_out, num_recipes = load_data(run.args, run.settings)
    run.announce(
        f"recipes={num_recipes} train={x_train.shape} held out={x_held_out.shape} "
        f"vocabulary={len(vectorizer.get_vocabulary())}"
    )
    return run, vectorizer, x_train, x_held_out, num_recipes


def run_text_recipe(
    recipe, doc, presets, argv, build_model, curve_title, requires=None
):
    """Runs a text recipe end to end; returns `Run.finish`'s dict.

    Args:
        recipe: the recipe's name (output folder, metrics.json).
        doc: the recipe's module docstring (its first line is the --help).
        presets: `{"full": ..., "quick": ..., "tiny": ...}` settings dicts
            with at least vocab_size, sequence_length, learning_rate,
            batch_size, epochs, max_recipes, validation_split,
            generate_tokens, samples_per_temperature, probs_tokens,
            probs_top and sample_every.
        argv: the command line (None: sys.argv).
        build_model: `build_model(settings, vocab_size, tokenizer)` -> a
            compiled text model.
        curve_title: the training curve's title.
        requires: `{module: extra}` the recipe needs beyond the text
            recipes' own (checked before any work).
    """
    run, vectorizer, x_train, x_val, num_recipes = start_text_run(
        recipe, doc, presets, argv, requires
    )
    args, settings = run.args, run.settings
    import keras
    import numpy as np

    vocab = vectorizer.get_vocabulary()
    # The output layer covers the vocabulary actually built (at most
    # `vocab_size` words), so the perplexity is over real words only.
    # The vectorizer travels with the model (saved in model.keras).
    model = build_model(settings, len(vocab), tokenizer=vectorizer)
    if args.verbose:
        model.summary()

    during_path = run.path("generated_during_training.txt")
    if not run.resumed:  # A resumed run appends to the epochs before it.
        open(during_path, "w").close()

    def write_generation(model, epoch):
        # The book's TextGenerator callback: "recipe for" at temperature 1.0.
        ids = generate_text(
            model, TRAINING_PROMPT, settings["generate_tokens"], 1.0, args.seed + epoch
        )
        text = model.decode(ids[0])
        print(f"\n[epoch {epoch}] generated text:\n{text}\n")
        with open(during_path, "a") as f:
            f.write(f"epoch {epoch}: {text}\n\n")
        return None

    run.fit(model, x_train, x_val, write_generation)
    val = run.evaluate(model, x_val)
    run.log(
        f"validation perplexity: {val['perplexity']:.2f} (per word, the end "
        "of each recipe counted)"
    )

    model_path = run.save_model(model)

    # Samples at several temperatures from the training prompt, each up to
    # its end (or sequence_length tokens).
    length = settings["sequence_length"]
    chunks, ended = [], []
    for t in SAMPLE_TEMPERATURES:
        ids = generate_text(
            model, TRAINING_PROMPT, None, t, args.seed,
            num_samples=settings["samples_per_temperature"], max_length=length,
        )  # fmt: skip
        texts = []
        for row, text in zip(ids, model.decode(ids)):
            end = np.flatnonzero(row == 0)
            ended.append(bool(end.size))
            texts.append(
                f"{text}\n[ended after {end[0]} words]"
                if end.size
                else f"{text}\n[no end within {length} words]"
            )
        chunks.append(f"=== temperature {t} ===\n" + "\n\n".join(texts) + "\n")
    # The saved file alone (no side files) generates from text.
    reloaded = keras.saving.load_model(model_path)
    text = reloaded.generate(
        "recipe for roasted", max_length=length, temperature=0.5, seed=args.seed
    )[0]
    chunks.append(
        "=== model.keras reloaded, 'recipe for roasted', temperature 0.5 ===\n"
        + text + "\n"
    )  # fmt: skip
    samples_path = run.path("samples.txt")
    with open(samples_path, "w") as f:
        f.write("\n".join(chunks))
    print("\n".join(chunks))

    # The book's next-word probability tables.
    tables = [
        next_word_table(
            model, prompt, t, settings["probs_tokens"], settings["probs_top"], args.seed
        )
        for prompt in BOOK_PROMPTS
        for t in BOOK_TEMPERATURES
    ]
    probs_path = run.path("next_word_probs.txt")
    with open(probs_path, "w") as f:
        f.write("\n\n".join(tables))
    print("\n\n".join(tables))
    run.paths += [samples_path, probs_path, during_path]

    return run.finish(
        model, samples_path, curve_title, ["loss", "perplexity"],
        val_perplexity=val["perplexity"],
        val_bits_per_word=val["bits_per_dim"],
        val_nats_per_word=val["loss"],
        samples_ended=float(np.mean(ended)),
        num_recipes=num_recipes,
        num_train=len(x_train),
        num_val=len(x_val),
        vocabulary_size=len(vocab),
        parameters=model.count_params(),
    )  # fmt: skip
