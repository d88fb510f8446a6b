"""`compress` and `decompress`: the model's generation loop, with a coder.

How it works
------------
A model factorizes p(x) = prod_i p(x_i | x_<i); an entropy coder turns the
sequence of conditionals into a code of about -log2 p(x) bits. Decoding
must see exactly the distributions the encoder saw, bit for bit, or it
silently returns other values. So both directions run one program: the
model's own cached generation step (`_generation_step`, the step
`generate` runs), in a loop compiled by `keras_ar.backend.compile_loop`,
where the value a step would sample is chosen by a coder on the host
(`keras_ar.ops.step_coder`, reached through
`keras_ar.backend.host_callback`):

- compress: the coder gets the step's logits (or mixture parameters),
  turns them into float64 probabilities (`probabilities.py`), encodes the
  true value with them and returns it, so the loop is teacher-forced;
- decompress: the coder decodes the value with the same probabilities and
  returns it, so the loop continues with it.

The two runs feed the step the same values in the same batch, so its
outputs are bit-identical, and so are the probabilities and their integer
quantisation (`constriction`'s range coder with `Categorical(perfect=False)`
on both sides). Examples are coded in chunks of `batch` (stored in the
header); a last, shorter chunk is padded (the padding rows get the value 0
on both sides and are not coded).

What is guaranteed
------------------
A file decodes to exactly the examples it was made from with the same
model (same config and weights: the header's fingerprint), on the same
backend (the header says which), platform and library versions (the header
keeps a tag of them; another environment decodes if its step arithmetic
is bit-identical, which is not guaranteed: the decoded data is checked
against its CRC32, so the outcome is the exact data or a `ValueError`, not
wrong values). On PyTorch the step runs eagerly; keep the thread settings
of the encoding process. Another model, another backend, a truncated or
corrupted file: a `ValueError`.
"""

import functools
import hashlib
import json

import keras
import numpy as np
from keras import ops

from keras_ar.backend import compile_loop
from keras_ar.backend.host_callback import host_call, host_calls_compile
from keras_ar.compression import container
from keras_ar.compression.probabilities import LogisticMixture, softmax
from keras_ar.generation import generation_batch_size, loop_state_bytes, run_in_chunks
from keras_ar.models.base import AutoregressiveModel
from keras_ar.models.image_model import ImageAutoregressiveModel
from keras_ar.ops.step_coder import coding
from keras_ar.optional import import_optional


def compress(model, x, labels=None, batch_size=None, verbose="auto"):
    """Compresses examples losslessly with `model`; returns `bytes`.

    Args:
        model: a keras_ar model (any family).
        x: int array `(N, *event_shape)` with values in `[0, levels)`:
            images, sequences, or token ids of texts. For a text model with
            a `pad_token_id` a row is a text up to and including its end
            (the first pad token; later positions must be pad tokens too).
        labels: class labels `(N,)` for a class-conditional model (they are
            stored in the file).
        batch_size: examples coded together (memory against speed); None
            picks it as `generate` does. The decoder uses the same.
        verbose: "auto", 0 or 1: a progress bar over the coding steps.
    Returns:
        bytes: a 56-byte header and the range coder's output. It decodes
        with `decompress(model, data)` under the conditions in this
        module's docstring.
    """
    _check_model(model)
    constriction = _constriction("compress")
    x = model.validate_x(x)
    if len(x) == 0:
        raise ValueError("`x` is empty: it holds 0 examples")
    labels = model.validate_labels(labels, len(x))
    end = _end_token(model)
    if end is not None:
        _check_text_ends(x, end)
    _check_size(x.shape)
    encoder = constriction.stream.queue.RangeEncoder()
    if labels is not None:
        _code_labels(encoder, labels, model.num_classes, constriction)
    values = _values_by_step(model, x)
    batch = _batch_size(model, x.shape, labels, batch_size)

    def session(rows, real):
        return _Session(encoder, constriction, real, end, values[:, rows])

    result, error = _run(model, x.shape, labels, batch, verbose, session)
    if error is not None:
        raise error
    if not np.array_equal(result, x):  # pragma: no cover (a broken family)
        raise RuntimeError(
            f"{type(model).__name__}'s generation step did not write the "
            "values it was given: this family cannot be compressed"
        )
    payload = encoder.get_compressed().astype("<u4").tobytes()
    flags = (container.FLAG_LABELS if labels is not None else 0) | (
        container.FLAG_TEXT if end is not None else 0
    )
    return container.pack(
        backend=keras.backend.backend(),
        flags=flags,
        shape=x.shape[1:],
        count=len(x),
        batch=batch,
        payload=payload,
        fingerprint=model_fingerprint(model),
        data_crc=container.data_checksum(x, labels),
    )


def decompress(model, data, verbose="auto"):
    """Decodes `compress(model, x, labels)` back to `x`, exactly.

    Args:
        model: the model that compressed `data` (same config and weights).
        data: the bytes `compress` returned.
        verbose: "auto", 0 or 1: a progress bar over the coding steps.
    Returns:
        int32 NumPy `x`, or `(x, labels)` for a class-conditional model.
    Raises:
        ValueError: `data` is not a keras_ar compressed file, is truncated or
            corrupted, was written with another model or backend, or does
            not decode to the data it was made from (another environment).
    """
    _check_model(model)
    constriction = _constriction("decompress")
    fields, payload = container.unpack(data)
    backend = keras.backend.backend()
    if fields["fingerprint"] != model_fingerprint(model):
        raise ValueError(
            "`data` was compressed with another model (its fingerprint of the "
            "config and weights differs from this model's): decode it with "
            "the model that compressed it"
        )
    if fields["backend"] != backend:
        raise ValueError(
            f"`data` was compressed on the {fields['backend']} backend; this "
            f"process runs {backend}, whose arithmetic differs: decode it with "
            f"KERAS_BACKEND={fields['backend']}"
        )
    shape = (fields["count"],) + tuple(fields["shape"])
    try:
        model._check_shape(shape, "data")
    except ValueError:
        raise ValueError(
            f"`data` holds examples of shape {shape[1:]}, which this model "
            "does not take"
        ) from None
    if fields["labels"] != model.conditional or (fields["text"]) != (
        _end_token(model) is not None
    ):
        raise ValueError("`data` does not match this model's kind of data")
    end = _end_token(model)
    words = np.frombuffer(payload, "<u4").astype(np.uint32)
    if words.size == 0:
        words = np.zeros((0,), np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    labels = None
    if fields["labels"]:
        labels = _decode_labels(
            decoder, fields["count"], model.num_classes, constriction
        )

    def session(rows, real):
        return _Session(decoder, constriction, real, end)

    x, error = _run(model, shape, labels, fields["batch"], verbose, session)
    mismatch = container.data_checksum(x, labels) != fields["data_crc"]
    if error is not None or mismatch:
        same_env = fields["environment"] == container.environment_tag()
        raise ValueError(
            "`data` did not decode to the data it was made from (checksum "
            "mismatch): "
            + (
                "it is corrupted"
                if same_env
                else "it was written in another environment (library, backend "
                "or platform versions) whose arithmetic differs, or it is "
                f"corrupted; this environment is {container.environment()}"
            )
        ) from error
    return (x, labels) if labels is not None else x


def model_fingerprint(model):
    """8 bytes: a hash of the model's class, config and weights (not its
    name, nor a text model's tokenizer: the coded data are token ids)."""
    digest = hashlib.sha256(type(model).__name__.encode())
    config = {
        k: v for k, v in model.get_config().items() if k not in ("name", "tokenizer")
    }
    digest.update(json.dumps(config, sort_keys=True, default=repr).encode())
    for weight in model.weights:
        value = np.ascontiguousarray(ops.convert_to_numpy(weight))
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.digest()[:8]


# ----------------------------------------------------------------------
class _StepCoder:
    """The coder `keras_ar.ops.step_coder` hands each step's draw to; it
    forwards to the session of the running `compress`/`decompress` (one
    coder per model, traced into its compiled coding loop)."""

    session = None

    def categorical(self, logits):
        return host_call(self._categorical, logits, tuple(logits.shape[:-1]))

    def logistic_mixture(self, params, options):
        shape = tuple(params.shape[:-1]) + (options["channels"],)
        return host_call(functools.partial(self._mixture, options), params, shape)

    def _categorical(self, logits):
        return self.session.categorical(logits)

    def _mixture(self, options, params):
        return self.session.mixture(options, params)


class _Session:
    """Codes the values of one chunk, step after step.

    Args:
        stream: a constriction `RangeEncoder` (compress) or `RangeDecoder`.
        real: rows of the chunk that are examples (the rest is padding).
        end: the end-of-text token (a row is done once it was coded), or None.
        values: for compress, int `(steps, batch, width)`: each step's values.
    """

    def __init__(self, stream, constriction, real, end, values=None):
        self.stream = stream
        self.family = constriction.stream.model.Categorical(perfect=False)
        self.real = real
        self.end = end
        self.values = values
        self.done = np.zeros((real,), bool)
        self.step = 0
        self.error = None

    def _code(self, probs, rows, column):
        if self.values is None:
            return self.stream.decode(self.family, probs).astype(np.int32)
        symbols = self.values[self.step, rows, column].astype(np.int32)
        self.stream.encode(symbols, self.family, probs)
        return symbols

    def categorical(self, logits):
        shape = logits.shape[:-1]
        logits = logits.reshape(-1, logits.shape[-1])
        out = np.zeros((logits.shape[0],), np.int32)
        if self.error is None:
            try:
                rows = np.flatnonzero(~self.done)
                if rows.size:
                    symbols = self._code(softmax(logits[rows]), rows, 0)
                    out[rows] = symbols
                    if self.end is not None:
                        self.done[rows] |= symbols == self.end
            except Exception as error:  # noqa: BLE001 (reported after the loop)
                self.error = error
        self.step += 1
        return out.reshape(shape)

    def mixture(self, options, params):
        shape = params.shape[:-1]
        params = params.reshape(-1, params.shape[-1])
        channels = options["channels"]
        out = np.zeros((params.shape[0], channels), np.int32)
        if self.error is None:
            try:
                rows = np.arange(self.real)
                mixture = LogisticMixture(params[rows], **options)
                for channel in range(channels):
                    symbols = self._code(mixture.channel_probs(channel), rows, channel)
                    mixture.observe(symbols)
                    out[rows, channel] = symbols
            except Exception as error:  # noqa: BLE001 (reported after the loop)
                self.error = error
        self.step += 1
        return out.reshape(shape + (channels,))


def _run(model, shape, labels, batch, verbose, make_session):
    """Runs the coding loop over all examples in chunks of `batch`; returns
    `(x, error)`: the values the loop wrote, and the first error a session
    met (or None)."""
    run, coder = _coding_loop(model, (batch,) + tuple(shape[1:]))
    count = shape[0]
    x0, start, stop = model._generation_setup(count, **_setup_kwargs(model, shape))
    noise_width = model.noise_width
    errors = []

    def run_chunk(rows, progress):
        real = int(np.sum(rows == rows[0] + np.arange(len(rows))))
        coder.session = make_session(rows, real)
        try:
            chunk_labels = None if labels is None else labels[rows]
            state = model._generation_state(x0[rows], chunk_labels, True)
            state, first = model._prepare_loop(state, start, True)
            noise = np.zeros((stop, len(rows), noise_width), "float32")
            state = progress.run_steps(
                run, state, ops.convert_to_tensor(noise), first, stop, 1.0
            )
            result = model._generation_result(state)
        finally:
            session, coder.session = coder.session, None
        if session.error is not None:
            errors.append(session.error)
        return result

    x = run_in_chunks(run_chunk, count, batch, stop - start, verbose, lambda: 1)
    x = np.asarray(x, "int32").reshape(shape)
    return x, (errors[0] if errors else None)


def _coding_loop(model, shape):
    """`(run, coder)`: the compiled coding loop for chunks of `shape`. One
    loop per shape, so that each is only ever traced with its exact shapes
    (TensorFlow relaxes the shapes of a function traced with several, which
    could change its arithmetic between two processes)."""
    key = ("compression", shape)
    if key not in model._generation_loops:
        coder = _StepCoder()

        def step(i, state, noise_i, temperature):
            with coding(coder):
                return model._generation_step(
                    i, state, noise_i, temperature, use_cache=True
                )

        run = compile_loop(
            model, step, jit_compile=host_calls_compile(), torch_compile=False
        )
        model._generation_loops[key] = (run, coder)
    return model._generation_loops[key]


def _batch_size(model, shape, labels, batch_size):
    count = shape[0]
    x0, start, _ = model._generation_setup(1, **_setup_kwargs(model, shape))

    def state_bytes():
        state = model._generation_state(
            x0, None if labels is None else labels[:1], True
        )
        return loop_state_bytes(model._prepare_loop(state, start, True)[0])

    return generation_batch_size(batch_size, count, state_bytes)


def _setup_kwargs(model, shape):
    from keras_ar.models.text_model import TextAutoregressiveModel

    if isinstance(model, TextAutoregressiveModel):
        return {"max_length": int(shape[1])}
    if None in model.event_shape:
        return {"length": int(shape[1])}
    return {}


def _values_by_step(model, x):
    """`(steps, N, width)`: the values each generation step writes."""
    n = len(x)
    if isinstance(model, ImageAutoregressiveModel):
        height, width, _ = model.image_shape
        steps = height * width * model.steps_per_pixel
        return x.reshape(n, steps, -1).transpose(1, 0, 2)
    ordering = getattr(model, "ordering", None)  # MADE: its own order
    if ordering is not None:
        x = x[:, np.asarray(ordering)]
    return x.reshape(n, -1).T[..., None]


def _end_token(model):
    return getattr(model, "end_token_id", None)


def _check_text_ends(x, end):
    ended = np.cumsum(x == end, axis=1) > 0
    after = np.concatenate([np.zeros((len(x), 1), bool), ended[:, :-1]], axis=1)
    if np.any(after & (x != end)):
        row = int(np.flatnonzero(np.any(after & (x != end), axis=1))[0])
        raise ValueError(
            f"`x` row {row} has tokens after its end (the first pad token "
            f"{end}): a text ends there, and only pad tokens may follow"
        )


def _check_size(shape):
    if shape[0] >= 2**32 or any(d >= 2**32 for d in shape[1:]) or len(shape) > 4:
        raise ValueError(f"`x` of shape {shape} is too large for one file")


def _check_model(model):
    if not isinstance(model, AutoregressiveModel):
        raise TypeError(f"`model` must be a keras_ar model, got {type(model).__name__}")


def _constriction(feature):
    return import_optional("constriction", feature, "compression")


def _code_labels(encoder, labels, num_classes, constriction):
    family = constriction.stream.model.Categorical(perfect=False)
    probs = np.full((len(labels), num_classes), 1.0 / num_classes)
    encoder.encode(labels.astype(np.int32), family, probs)


def _decode_labels(decoder, count, num_classes, constriction):
    family = constriction.stream.model.Categorical(perfect=False)
    probs = np.full((count, num_classes), 1.0 / num_classes)
    try:
        return decoder.decode(family, probs).astype(np.int32)
    except Exception as error:  # noqa: BLE001
        raise ValueError("`data` is corrupted: its labels do not decode") from error
