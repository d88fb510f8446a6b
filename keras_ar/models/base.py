"""`AutoregressiveModel`: what every keras_ar model shares.

A model factorizes p(x) = prod_i p(x_i | x_<i) over the elements of an
integer-valued example `x` (pixels, audio samples, tokens, bits). Subclasses
write the network; this base gives them, identically on every backend:

- `compile()` / `fit(x)` with no targets: the default loss is the negative
  log-likelihood in nats per dimension (inputs are their own targets), and
  `bits_per_dim` is reported as a metric.
- `log_prob(x, labels=None)`: per-example log-likelihood in nats.
- `generate(num_samples, seed, temperature, use_cache, labels, ...)`: a
  sampling loop, compiled per backend (`keras_ar.backend.compile_loop`),
  with a cached incremental path and a plain reference path that make the
  same random choice at each step.
- Clear `ValueError`s for bad inputs, before any backend code runs.

Subclass contract
-----------------
Attributes set in `__init__`: `levels` (int), `event_shape` (tuple without
the batch axis; `None` for a free length), `num_classes` (int or None).

- `call(inputs, training=False)`: `inputs` is the int tensor `x`, or, for a
  class-conditional model, a dict `{"inputs": x, "labels": labels}`.
  Returns distribution parameters for every element, where the parameters
  for element i depend only on `x_<i` (and the labels).
- `log_prob_and_dims(x, outputs)`: `(log_prob, dims)`, both float32 `(B,)`:
  the log-likelihood of each example in nats, and how many dimensions it
  counts (e.g. unpadded tokens). The loss, the metrics and `log_prob` all go
  through this one function.
- Generation (see `generate`): `_generation_setup(num_samples, **kwargs)`,
  `_generation_state(x0, labels, use_cache)` and
  `_generation_step(i, state, noise_i, temperature, use_cache)`.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_ar.backend import compile_loop
from keras_ar.generation import (
    draw_noise,
    loop_state_bytes,
    run_in_chunks,
)
from keras_ar.metrics import NegativeLogLikelihood
from keras_ar.validation import check_int, check_positive_float, to_numpy


class AutoregressiveModel(keras.Model):
    """Base class of keras_ar's models. Not used directly."""

    #: Uniform draws used per generation step (a subclass may change it).
    noise_width = 1

    def __init__(self, levels, event_shape, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        check_int("levels", levels, minimum=2)
        if num_classes is not None:
            check_int("num_classes", num_classes, minimum=1)
        self.levels = int(levels)
        self.event_shape = tuple(event_shape)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.nll_metric = NegativeLogLikelihood(unit="bits")
        self._default_loss = True
        self._generation_loops = {}

    # ------------------------------------------------------------------
    # Inputs
    @property
    def conditional(self):
        return self.num_classes is not None

    def pack_inputs(self, x, labels=None):
        """The `call` input for `x` (and `labels` for a conditional model)."""
        if self.conditional:
            return {"inputs": x, "labels": labels}
        return x

    def unpack_inputs(self, inputs):
        """`(x, labels)` from a `call` input."""
        if isinstance(inputs, dict):
            if "inputs" not in inputs:
                raise ValueError(
                    "A dict input must hold the data under the key 'inputs' "
                    f"(and class labels under 'labels'); got keys {sorted(inputs)}"
                )
            labels = inputs.get("labels")
            if self.conditional and labels is None:
                raise ValueError(
                    f"{type(self).__name__} is class-conditional "
                    f"(num_classes={self.num_classes}): pass {{'inputs': x, "
                    "'labels': labels}."
                )
            return inputs["inputs"], labels
        if self.conditional:
            raise ValueError(
                f"{type(self).__name__} is class-conditional "
                f"(num_classes={self.num_classes}): pass "
                "{'inputs': x, 'labels': labels} (or `labels=` to log_prob "
                "and generate)."
            )
        return inputs, None

    def validate_x(self, x, name="x"):
        """Checks an integer example batch and returns it as int32 NumPy."""
        x = to_numpy(x)
        self._check_integers(x, name)
        expected = self.event_shape
        if x.ndim != len(expected) + 1 or any(
            e is not None and a != e for a, e in zip(x.shape[1:], expected)
        ):
            shown = ", ".join("N" if e is None else str(e) for e in expected)
            raise ValueError(
                f"`{name}` must have shape (batch, {shown}), got {x.shape}"
            )
        return self.validate_values(x, name)

    def validate_values(self, x, name="x"):
        """Checks that `x` holds integers in [0, levels); returns int32 NumPy.

        For arrays of any shape, e.g. a generation prefix."""
        x = to_numpy(x)
        self._check_integers(x, name)
        if x.size and (x.min() < 0 or x.max() >= self.levels):
            raise ValueError(
                f"`{name}` values must be in [0, {self.levels}) "
                f"(levels={self.levels}), got min {x.min()} and max {x.max()}"
            )
        return x.astype("int32")

    def _check_integers(self, x, name):
        if not np.issubdtype(x.dtype, np.integer):
            raise ValueError(
                f"`{name}` must hold integers in [0, {self.levels}) "
                f"(the model's `levels`), got dtype {x.dtype}. Quantize "
                "images first, e.g. keras_ar.datasets.quantize(images, levels)."
            )

    def validate_labels(self, labels, batch_size):
        """Checks `labels` against `num_classes`; returns int32 NumPy or None."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(
                    f"`labels` given, but {type(self).__name__} is not "
                    "class-conditional (construct it with num_classes=...)."
                )
            return None
        if labels is None:
            raise ValueError(
                f"`labels` is required: {type(self).__name__} is "
                f"class-conditional with num_classes={self.num_classes}."
            )
        labels = to_numpy(labels)
        if labels.ndim == 0:
            labels = np.full((batch_size,), labels)
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"`labels` must be integers, got dtype {labels.dtype}")
        if labels.shape != (batch_size,):
            raise ValueError(
                f"`labels` must have shape ({batch_size},) (one per example), "
                f"got {labels.shape}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"`labels` must be in [0, {self.num_classes}) "
                f"(num_classes={self.num_classes}), got {labels.min()}..{labels.max()}"
            )
        return labels.astype("int32")

    # ------------------------------------------------------------------
    # Training: the default loss is the NLL of the inputs themselves.
    def log_prob_and_dims(self, x, outputs):
        raise NotImplementedError

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Like `keras.Model.compile`, with the NLL as the default loss.

        With `loss=None` (the default) `fit(x)` needs no targets: the loss is
        the negative log-likelihood of `x` in nats per dimension, and
        `bits_per_dim` is reported. A `loss` given here replaces it and then
        `fit` needs targets as usual.
        """
        self._default_loss = loss is None
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        """Re-compiles a loaded model as it was saved (default loss included).

        Keras skips this for models that override `compile()`; ours keeps
        `compile`'s signature, so the saved arguments replay as they are.
        """
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _nll(self, x, y_pred, sample_weight=None):
        data, _ = self.unpack_inputs(x)
        log_prob, dims = self.log_prob_and_dims(data, y_pred)
        nats = -log_prob
        if sample_weight is not None:
            sample_weight = ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
            nats = nats * sample_weight
            dims = dims * sample_weight
        return nats, dims

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if not self._default_loss:
            return super().compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
            )
        nats, dims = self._nll(x, y_pred, sample_weight)
        loss = ops.sum(nats) / ops.maximum(ops.sum(dims), 1.0)
        for extra in self.losses:
            loss = loss + ops.cast(ops.sum(extra), loss.dtype)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if self._default_loss:
            nats, dims = self._nll(x, y_pred, sample_weight)
            self.nll_metric.update_state(nats, dims)
            self.update_extra_metrics(nats, dims)
            y = None
            if self._compile_metrics is not None:
                # User metrics compare against the inputs themselves.
                y = self.unpack_inputs(x)[0]
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def update_extra_metrics(self, nats, dims):
        """Hook for subclasses that report more (e.g. perplexity)."""

    # ------------------------------------------------------------------
    # Scoring
    def log_prob(self, x, labels=None, batch_size=128):
        """Log-likelihood of each example, in nats.

        Args:
            x: int array `(N, *event_shape)` with values in `[0, levels)`.
            labels: for a class-conditional model, int array `(N,)`.
            batch_size: examples per forward pass.
        Returns:
            float64 NumPy array `(N,)`; `exp(log_prob)` sums to one over all
            possible `x` of that shape.
        """
        x = self.validate_x(x)
        labels = self.validate_labels(labels, len(x))
        check_int("batch_size", batch_size, minimum=1)
        results = []
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size]
            lb = None if labels is None else labels[start : start + batch_size]
            outputs = self(self.pack_inputs(xb, lb), training=False)
            log_prob, _ = self.log_prob_and_dims(ops.convert_to_tensor(xb), outputs)
            results.append(ops.convert_to_numpy(log_prob))
        if not results:
            return np.zeros((0,), "float64")
        return np.concatenate(results).astype("float64")

    def bits_per_dim(self, x, labels=None, batch_size=128):
        """Mean negative log-likelihood of `x` in bits per dimension."""
        log_prob = self.log_prob(x, labels=labels, batch_size=batch_size)
        x = np.asarray(x)
        dims = x[0].size if x.ndim > 1 else 1
        return float(-log_prob.mean() / dims / math.log(2.0))

    # ------------------------------------------------------------------
    # Sampling
    def generate(
        self,
        num_samples=1,
        seed=None,
        temperature=1.0,
        use_cache=True,
        labels=None,
        batch_size=None,
        verbose="auto",
        **kwargs,
    ):
        """Draws samples, one element at a time, in a compiled loop.

        Args:
            num_samples: how many examples to draw (>= 1).
            seed: int seed; the same seed gives the same samples (on a given
                backend), whatever `batch_size`. The per-step uniforms come
                from NumPy, so both generation paths, and all backends, see
                the same draws.
            temperature: > 0; divides the logits (or the logistic scales).
            use_cache: True for incremental generation (each step computes
                only what the new element changes); False for the reference
                path (a full forward pass per step). Same seed, same samples.
            labels: class labels, one int per sample, or one int for all, for
                class-conditional models.
            batch_size: samples drawn together in one loop, so that memory
                stays bounded for large `num_samples`; None picks at most
                1024, fewer when one sample's loop state is large (see
                `generation_batch_size`).
            verbose: "auto" shows a progress bar for long runs (many chunks
                or thousands of steps), 1 always, 0 never.
            **kwargs: family-specific options (e.g. `prefix` for images).
        Returns:
            int32 NumPy array `(num_samples, *event_shape)`.
        """
        check_int("num_samples", num_samples, minimum=1)
        temperature = check_positive_float("temperature", temperature)
        labels = self.validate_labels(labels, num_samples)
        x0, start, stop = self._generation_setup(num_samples, **kwargs)
        noise = draw_noise(seed, stop, num_samples, self.noise_width)
        run = self._generation_loop(bool(use_cache))

        def run_chunk(rows, progress):
            state = self._generation_state(
                x0[rows], None if labels is None else labels[rows], use_cache
            )
            state, first = self._prepare_loop(state, start, use_cache)
            state = progress.run_steps(
                run, state, ops.convert_to_tensor(noise[:, rows]), first, stop, temperature
            )
            return self._generation_result(state)

        def state_bytes():
            state = self._generation_state(
                x0[:1], None if labels is None else labels[:1], use_cache
            )
            return loop_state_bytes(self._prepare_loop(state, start, use_cache)[0])

        return run_in_chunks(
            run_chunk, num_samples, batch_size, stop - start, verbose, state_bytes
        )

    def _generation_loop(self, use_cache):
        if use_cache not in self._generation_loops:

            def step(i, state, noise_i, temperature):
                return self._generation_step(
                    i, state, noise_i, temperature, use_cache=use_cache
                )

            self._generation_loops[use_cache] = compile_loop(self, step)
        return self._generation_loops[use_cache]

    def _generation_setup(self, num_samples, **kwargs):
        """Returns `(x0, start, stop)`: the initial int32 NumPy batch and the
        range of steps to run (steps before `start` are given, e.g. a prefix).
        """
        raise NotImplementedError

    def _generation_state(self, x0, labels, use_cache):
        """Returns the loop state: a dict of tensors (at least "x")."""
        state = {"x": ops.convert_to_tensor(x0, "int32")}
        if labels is not None:
            state["labels"] = ops.convert_to_tensor(labels, "int32")
        return state

    def _prepare_loop(self, state, start, use_cache):
        """Returns `(state, start)`; e.g. a cached path that must replay the
        given steps (a prefix) to fill its caches starts the loop earlier."""
        return state, start

    def _generation_step(self, i, state, noise_i, temperature, use_cache):
        raise NotImplementedError

    def _generation_result(self, state):
        return ops.convert_to_numpy(state["x"]).astype("int32")

    # ------------------------------------------------------------------
    @classmethod
    def from_config(cls, config):
        return cls(**config)
