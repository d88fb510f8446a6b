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

`--data` (the default data) and the outputs in --out are those of
`lstm_recipes.py` (see its docstring). Needs keras-hub (the `text` extra).
"""

import os
import sys

if __package__ in (None, ""):
    # Run as a script: make `recipes` and `keras_ar` importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes import common

PRESETS = common.with_common(
    common.TEXT_DATA_PRESETS,
    # The LSTM recipe's data settings (the book's), with a small GPT.
    full=dict(
        num_layers=2, num_heads=4, hidden_dim=256, intermediate_dim=1024,
        dropout=0.1, learning_rate=1e-3,
    ),
    # The LSTM quick run's data and schedule with a model of about its size.
    quick=dict(
        num_layers=2, num_heads=4, hidden_dim=128, intermediate_dim=256,
        dropout=0.1, learning_rate=2e-3,
    ),
    tiny=dict(
        num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16, dropout=0.0
    ),
)  # fmt: skip

main = common.text_recipe_main(
    "transformer_recipes", __doc__, PRESETS,
    model=common.model_factory(
        "TransformerLM", "sequence_length", "num_layers", "num_heads",
        "hidden_dim", "intermediate_dim", "dropout", pad_token_id=0,
    ),
    curve_title="Transformer, Epicurious recipes",
    requires={"keras_hub": "text"},
)  # fmt: skip

if __name__ == "__main__":
    main(sys.argv[1:])
