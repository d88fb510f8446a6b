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

PRESETS = common.with_common(
    common.TEXT_DATA_PRESETS,
    # The book's model and settings.
    full=dict(embedding_dim=100, units=128, learning_rate=1e-3),
    # The book's model; a higher learning rate for the smaller batches.
    quick=dict(embedding_dim=100, units=128, learning_rate=5e-3),
    tiny=dict(embedding_dim=8, units=8),
)

main = common.text_recipe_main(
    "lstm_recipes", __doc__, PRESETS,
    model=common.model_factory(
        "RecurrentLM", "sequence_length", "embedding_dim", "units", cell="lstm",
        pad_token_id=0,
    ),
    curve_title="LSTM, Epicurious recipes",
)  # fmt: skip

if __name__ == "__main__":
    main(sys.argv[1:])
