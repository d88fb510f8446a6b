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
from recipes.common.text import (  # noqa: F401  (the recipe's settings)
    BOOK_PROMPTS,
    BOOK_TEMPERATURES,
    DEFAULT_DATA,
    SAMPLE_TEMPERATURES,
    TRAINING_PROMPT,
    run_text_recipe,
)

RECIPE = "lstm_recipes"

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


def main(argv=None):
    return run_text_recipe(
        RECIPE, __doc__, PRESETS, argv, build_model, "LSTM, Epicurious recipes"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
