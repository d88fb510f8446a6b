"""Transformer recipe generator: the Epicurious recipes of "Generative Deep
Learning" (2nd ed., ch. 5) with a GPT-style `TransformerLM` (keras-hub
`TransformerDecoder` blocks) in place of the book's LSTM.

Everything but the model is `lstm_recipes.py`'s (`recipes/common/text.py`):
the same flags, recipes ("Recipe for <title> | <directions>", punctuation
padded into words), the same held-out 20% for a given `--seed`, the same
`TextVectorization` vocabulary built from the training recipes, the same
outputs. So the two recipes' validation perplexities (per word, the end of
each recipe counted) compare like for like. The model reads 200 tokens
(learned positions), predicts each from the ones before it (a start token
fills position 0) and learns where a recipe ends (the first pad); generation
uses the decoders' key/value caches (one position of work per word).

Run:

    python recipes/transformer_recipes.py --quick --out runs/transformer_quick
    python recipes/transformer_recipes.py --data full_format_recipes.json --out runs/transformer

`--data` defaults to ../shared/data/epicurious_sample_158.json next to the
repository, when present (158 recipes); the book's data set is Kaggle's
"Epicurious - Recipes with Rating and Nutrition" `full_format_recipes.json`.

Outputs in --out: metrics.json, model.keras (with its TextVectorization
vocabulary: `keras.saving.load_model` gives back a model that generates from
text), training_curve.png, generated_during_training.txt, samples.txt
(temperatures 0.2, 0.5 and 1.0, each recipe up to its end or
`sequence_length` tokens, then one from the reloaded model.keras) and
next_word_probs.txt (the book's prompts). Needs keras-hub (the `text` extra).
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

RECIPE = "transformer_recipes"

PRESETS = {
    # The LSTM recipe's data settings (the book's), with a small GPT.
    "full": dict(
        vocab_size=10000, sequence_length=200, num_layers=2, num_heads=4,
        hidden_dim=256, intermediate_dim=1024, dropout=0.1,
        learning_rate=1e-3, batch_size=32, epochs=25, max_recipes=None,
        validation_split=0.2, generate_tokens=100, samples_per_temperature=3,
        probs_tokens=10, probs_top=5, sample_every=1,
    ),
    # The LSTM quick run's data and schedule (vocabulary 5000, at most 400
    # recipes, batch 16, 40 epochs) with a model of about its size.
    "quick": dict(
        vocab_size=5000, sequence_length=200, num_layers=2, num_heads=4,
        hidden_dim=128, intermediate_dim=256, dropout=0.1,
        learning_rate=2e-3, batch_size=16, epochs=40, max_recipes=400,
        validation_split=0.2, generate_tokens=60, samples_per_temperature=3,
        probs_tokens=10, probs_top=5, sample_every=5,
    ),
    # A few batches of a tiny model, for the tests.
    "tiny": dict(
        vocab_size=200, sequence_length=24, num_layers=1, num_heads=2,
        hidden_dim=8, intermediate_dim=16, dropout=0.0,
        learning_rate=1e-2, batch_size=8, epochs=2, max_recipes=32,
        validation_split=0.2, generate_tokens=6, samples_per_temperature=1,
        probs_tokens=1, probs_top=3, sample_every=1,
    ),
}  # fmt: skip


def build_model(settings, vocab_size, tokenizer=None):
    from keras_ar.models.transformer_lm import TransformerLM

    model = TransformerLM(
        tokenizer=tokenizer,
        vocab_size=vocab_size,
        sequence_length=settings["sequence_length"],
        num_layers=settings["num_layers"],
        num_heads=settings["num_heads"],
        hidden_dim=settings["hidden_dim"],
        intermediate_dim=settings["intermediate_dim"],
        dropout=settings["dropout"],
        pad_token_id=0,
    )
    return common.compile_adam(model, settings)


def main(argv=None):
    return run_text_recipe(
        RECIPE, __doc__, PRESETS, argv, build_model,
        "Transformer, Epicurious recipes", requires={"keras_hub": "text"},
    )  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
