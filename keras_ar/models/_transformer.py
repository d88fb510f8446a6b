"""What the two transformer families (`TransformerLM`, `ImageTransformer`)
share: their hyperparameters and checks, and the trunk after the
embeddings, so that each family file holds only its embeddings and head."""

import keras

from keras_ar.layers.causal_transformer_stack import CausalTransformerStack
from keras_ar.validation import check_int, check_positive_float


class TransformerArgs:
    """Mixin of the transformer families (put before their model base).

    Takes the stack's sizes, which both families document and default
    alike (`num_layers` is the family's own, its default differing), checks
    them and stores them under their names; the other arguments go on to
    the model's base.
    """

    def __init__(
        self,
        num_layers,
        num_heads=4,
        hidden_dim=128,
        intermediate_dim=512,
        dropout=0.0,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Ints and floats under their names, for `get_config`.
        self.num_layers = check_int("num_layers", num_layers, minimum=1)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        self.hidden_dim = check_int("hidden_dim", hidden_dim, minimum=1)
        if self.hidden_dim % self.num_heads:
            raise ValueError(
                f"`hidden_dim` ({hidden_dim}) must be a multiple of `num_heads` "
                f"({num_heads})"
            )
        self.intermediate_dim = check_int("intermediate_dim", intermediate_dim, minimum=1)
        self.dropout = check_positive_float("dropout", dropout, allow_zero=True)
        if self.dropout >= 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout}")
        self.layer_norm_epsilon = check_positive_float(
            "layer_norm_epsilon", layer_norm_epsilon
        )


def transformer_trunk(model):
    """`(embedding_dropout, transformer)`: the layers between a family's
    embeddings and its head, sized by the model's checked attributes."""
    policy = model.dtype_policy
    embedding_dropout = keras.layers.Dropout(
        model.dropout, name="embedding_dropout", dtype=policy
    )
    transformer = CausalTransformerStack(
        num_layers=model.num_layers,
        num_heads=model.num_heads,
        intermediate_dim=model.intermediate_dim,
        dropout=model.dropout,
        layer_norm_epsilon=model.layer_norm_epsilon,
        name="transformer",
        dtype=policy,
    )
    return embedding_dropout, transformer
