"""Next-token samplers for language-model generation.

Every sampler spends uniforms drawn up front (inverse CDF), so that the same
seed gives the same tokens on the cached and the uncached generation path.
`get(identifier, ...)` resolves the `sampler=` argument of `generate`.

keras-hub's samplers. A text model's `generate(sampler=...)` also takes
keras-hub sampler objects (`keras_hub.samplers.TopPSampler(p=0.9)`,
`TopKSampler`, `GreedySampler`, `RandomSampler`, `BeamSampler`; install the
`text` extra): they run their own loop on the model's cached or uncached
step, draw with their own seed and temperature, and end texts at the
model's end token like these. keras_ar keeps its own samplers only for what
keras-hub's do not give:

- Seeds that mean the same everywhere: `generate(seed=s)` gives the same
  tokens on the cached and the uncached path and on TensorFlow, JAX and
  PyTorch (the uniforms come from NumPy and are spent by inverse CDF inside
  the compiled loop); keras-hub's draw from the backend's generator, which
  differs across backends and advances from call to call.
- Generation with no keras-hub installed (`import keras_ar` needs only
  Keras), for every model family.
- A beam search that freezes a beam once it has ended (extended only by
  padding, at no cost), so its scores are the log-probabilities of whole
  texts and a wide enough beam is exact (tests check it); keras-hub's keeps
  extending ended beams.

`RandomSampler`, `GreedySampler`, `TopKSampler` and `TopPSampler` follow
the semantics of keras-hub's namesakes: from the same logits they keep the
same candidates and draw them with the same probabilities (tests compare
them with keras-hub's own samplers). `TopPSampler(p, k=...)` measures `p` on
the full distribution after keeping the top `k`, as keras-hub does, and
`TopPSampler(1.0)` is exactly plain random sampling. They differ only at
exact ties (keras_ar keeps every token tied with the last one kept; keras-hub
keeps the first in its sort order). They exist for the first two points.
Names, arguments (`k`, `p`, `num_beams`, `return_all_beams`) and meanings
follow keras-hub's, so a sampler can be swapped for the other library's.
"""

from keras_ar.samplers.beam_sampler import BeamSampler
from keras_ar.samplers.greedy_sampler import GreedySampler
from keras_ar.samplers.random_sampler import RandomSampler
from keras_ar.samplers.sampler import Sampler
from keras_ar.samplers.top_k_sampler import TopKSampler
from keras_ar.samplers.top_p_sampler import TopPSampler

_BY_NAME = {
    "random": RandomSampler,
    "greedy": GreedySampler,
    "top_k": TopKSampler,
    "top_p": TopPSampler,
    "beam": BeamSampler,
}


def get(identifier="random", top_k=None, top_p=None, num_beams=None):
    """Returns a `Sampler` from a name or a `Sampler` instance.

    Args:
        identifier: one of "random", "greedy", "top_k", "top_p", "beam", or
            a `Sampler` object (then the other arguments must be None).
        top_k: the k of "top_k" (default 5), or a top-k cut for "top_p".
        top_p: the p of "top_p" (default 0.9).
        num_beams: the beam width of "beam" (default 4).

    Example:
    ```python
    from keras_ar import samplers

    samplers.get("top_k", top_k=10)  # TopKSampler(k=10)
    ```
    """
    options = {"top_k": top_k, "top_p": top_p, "num_beams": num_beams}
    given = sorted(name for name, value in options.items() if value is not None)
    if isinstance(identifier, Sampler):
        if given:
            raise ValueError(
                f"{', '.join(f'`{n}`' for n in given)} given along with the "
                f"sampler object {identifier!r}: set them in its constructor."
            )
        return identifier
    if not isinstance(identifier, str) or identifier not in _BY_NAME:
        raise ValueError(
            f"`sampler` must be one of {list(_BY_NAME)} or a "
            "keras_ar.samplers.Sampler (a text model also takes a keras-hub "
            f"sampler object), got {identifier!r}"
        )
    uses = {
        "random": (),
        "greedy": (),
        "top_k": ("top_k",),
        "top_p": ("top_k", "top_p"),
        "beam": ("num_beams",),
    }[identifier]
    unused = [name for name in given if name not in uses]
    if unused:
        raise ValueError(
            f"{', '.join(f'`{n}`' for n in unused)} has no effect with "
            f"sampler={identifier!r}"
        )
    if identifier == "top_k":
        return TopKSampler(5 if top_k is None else top_k)
    if identifier == "top_p":
        return TopPSampler(0.9 if top_p is None else top_p, k=top_k)
    if identifier == "beam":
        return BeamSampler(4 if num_beams is None else num_beams)
    return _BY_NAME[identifier]()


__all__ = [
    "BeamSampler",
    "GreedySampler",
    "RandomSampler",
    "Sampler",
    "TopKSampler",
    "TopPSampler",
    "get",
]
