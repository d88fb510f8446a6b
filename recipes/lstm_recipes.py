"""LSTM recipe generator: "Generative Deep Learning" (2nd ed.), ch. 5.

The book's word-level LSTM on the Epicurious recipes, with its settings:
each recipe is "Recipe for <title> | <directions>", punctuation padded into
words, a `TextVectorization` vocabulary of 10000 words, sequences of 200
tokens (the book vectorizes 201 and shifts by one; keras_ar's `RecurrentLM`
has a start state, so it reads the 200 tokens and predicts all of them),
embedding 100, one LSTM of 128 units, Adam, batch 32, 25 epochs. As in the
book, a callback prints a generated recipe from "recipe for" after every
epoch, and at the end the book's prompts are continued at temperatures 1.0
and 0.2 with the most likely next words shown.

Unlike the book, padding is not a word: the first pad token of a recipe is
its end, scored like a word, and what follows is masked out of the loss, so
the model learns where recipes end and `generate` stops there (the book's
`TextGenerator` also stops at id 0, but its model learns padding as words).
20% of the recipes (the book's VALIDATION_SPLIT, which it never uses) are
held out for the validation perplexity (per word, the end counted).

Run:

    python recipes/lstm_recipes.py --quick --out runs/lstm_quick
    python recipes/lstm_recipes.py --data full_format_recipes.json --out runs/lstm

`--data` defaults to ../shared/data/epicurious_sample_158.json next to the
repository, when present (158 recipes); the book's data set is Kaggle's
"Epicurious - Recipes with Rating and Nutrition" `full_format_recipes.json`.

Outputs in --out: metrics.json, model.keras (with its TextVectorization
vocabulary: `keras.saving.load_model` gives back a model that generates from
text), training_curve.png, generated_during_training.txt, samples.txt
(temperatures 0.2, 0.5 and 1.0, each recipe up to its end or
`sequence_length` tokens, then one from the reloaded model.keras) and
next_word_probs.txt (the book's prompts).
"""

import os
import sys

if __package__ in (None, ""):
    # Run as a script: make `recipes` and `keras_ar` importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes import common

RECIPE = "lstm_recipes"
DEFAULT_DATA = "shared/data/epicurious_sample_158.json"
TRAINING_PROMPT = "recipe for"
# The book's prompts for its next-word probability tables.
BOOK_PROMPTS = (
    "recipe for roasted vegetables | chop 1 /",
    "recipe for chocolate ice cream |",
)
BOOK_TEMPERATURES = (1.0, 0.2)
SAMPLE_TEMPERATURES = (0.2, 0.5, 1.0)

PRESETS = {
    # The book's settings.
    "full": dict(
        vocab_size=10000, sequence_length=200, embedding_dim=100, units=128,
        learning_rate=1e-3, batch_size=32, epochs=25, max_recipes=None,
        validation_split=0.2, generate_tokens=100, samples_per_temperature=3,
        probs_tokens=10, probs_top=5, sample_every=1,
    ),
    # The book's model on at most 400 recipes with a 5000-word vocabulary:
    # smaller batches and a higher learning rate take enough steps in 40
    # short epochs to get past word frequencies (the default 158-recipe
    # sample fits whole).
    "quick": dict(
        vocab_size=5000, sequence_length=200, embedding_dim=100, units=128,
        learning_rate=5e-3, batch_size=16, epochs=40, max_recipes=400,
        validation_split=0.2, generate_tokens=60, samples_per_temperature=3,
        probs_tokens=10, probs_top=5, sample_every=5,
    ),
    # A few batches of a tiny model, for the tests.
    "tiny": dict(
        vocab_size=200, sequence_length=24, embedding_dim=8, units=8,
        learning_rate=1e-2, batch_size=8, epochs=2, max_recipes=32,
        validation_split=0.2, generate_tokens=6, samples_per_temperature=1,
        probs_tokens=1, probs_top=3, sample_every=1,
    ),
}  # fmt: skip


def build_parser():
    return common.build_parser(
        description=__doc__.splitlines()[0],
        default_out=os.path.join("runs", RECIPE),
        default_data=common.default_data_file(DEFAULT_DATA),
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

    if args.data is None:
        raise FileNotFoundError(
            f"No data: pass --data full_format_recipes.json (Kaggle's "
            f"Epicurious recipes) or put the sample at ../{DEFAULT_DATA}."
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


def build_model(settings, vocab_size, tokenizer=None):
    from keras_ar.models.recurrent_lm import RecurrentLM

    model = RecurrentLM(
        tokenizer=tokenizer,
        vocab_size=vocab_size,
        sequence_length=settings["sequence_length"],
        embedding_dim=settings["embedding_dim"],
        units=settings["units"],
        cell="lstm",
        pad_token_id=0,
    )
    return common.compile_adam(model, settings)


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


def main(argv=None):
    run = common.Run(RECIPE, build_parser(), PRESETS, argv)
    args, settings = run.args, run.settings
    import keras
    import numpy as np

    vectorizer, x_train, x_val, num_recipes = load_data(args, settings)
    vocab = vectorizer.get_vocabulary()
    run.announce(
        f"recipes={num_recipes} train={x_train.shape} validation={x_val.shape} "
        f"vocabulary={len(vocab)}"
    )
    # The output layer covers the vocabulary actually built (at most
    # `vocab_size` words), so the perplexity is over real words only.
    # The vectorizer travels with the model (saved in model.keras).
    model = build_model(settings, len(vocab), tokenizer=vectorizer)
    if args.verbose:
        model.summary()

    during_path = run.path("generated_during_training.txt")
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
        model, samples_path, "LSTM, Epicurious recipes", ["loss", "perplexity"],
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


if __name__ == "__main__":
    main(sys.argv[1:])
