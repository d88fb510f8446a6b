"""WaveNet (van den Oord et al., 2016) with fast cached generation.

The model factorizes a sequence of quantized audio samples (e.g. mu-law,
`keras_ar.ops.mu_law`) as

    p(x) = prod_t p(x_t | x_<t [, label])

with a stack of gated residual blocks over causal dilated convolutions.

Generation with `use_cache=True` is the fast algorithm of Paine et al. (2016):
every block keeps a queue (a ring buffer) of its last `(k-1) d` inputs, so a
step computes only the newest time step of each layer, in time and memory
proportional to the number of layers and the receptive field, instead of a
full forward pass over the sequence generated so far.
"""

import keras
import numpy as np
from keras import ops

from keras_ar.backend.slicing import loop_slice_update
from keras_ar.layers.wavenet_block import WaveNetResidualBlock
from keras_ar.models.base import AutoregressiveModel
from keras_ar.ops.categorical import categorical_log_prob, sample_categorical
from keras_ar.validation import check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class WaveNet(AutoregressiveModel):
    """WaveNet: a categorical over `levels` values per time step.

    The input is shifted right by one step inside the model, with a learned
    start embedding in front, so that the logits at step `t` depend only on
    `x_<t`: `log_prob` includes `x_0`, and `exp(log_prob)` is a distribution
    over all sequences of a given length. The network is

        embedding -> [WaveNetResidualBlock] * len(dilations)
        -> sum of skips -> relu -> 1x1 -> relu -> 1x1 -> logits (B, T, levels)

    A class-conditional model (`num_classes`) feeds the one-hot label to
    every block as global conditioning (e.g. the speaker identity).

    Args:
        levels: number of values per step (256 for 8-bit mu-law audio).
        sequence_length: fixed length of the examples, or `None` for any
            length (then `generate` needs `length=`).
        residual_channels: channels of the residual stream (and of the
            gated activations).
        skip_channels: channels of the skip connections and of the head.
        kernel_size: taps of each dilated convolution (2 in the paper).
        dilations: list of the blocks' dilations; by default `num_stacks`
            repetitions of `1, 2, 4, ..., 512`.
        num_stacks: how many times the default dilation pattern repeats
            (used only when `dilations` is None).
        num_classes: number of class labels for global conditioning, or
            `None` for an unconditional model.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

    Generation: `generate` takes the arguments of every model
    (`AutoregressiveModel.generate`: `num_samples`, `seed`, `temperature`,
    `use_cache`, `labels`, `batch_size`, `verbose`) and two of its own:

    - `length`: how many steps to draw; required when the model was built
      with `sequence_length=None`, otherwise None or `sequence_length`.
    - `prefix`: int array `(num_samples or 1, P)`, the given first
      `P <= length` samples, which the sampler continues.

    `use_cache=True` is the queue-based sampler above; `use_cache=False`
    runs a full forward pass per step (the reference path). It returns an
    int32 NumPy array `(num_samples, length)`; with `verbose="auto"` long
    runs (e.g. 16 000 steps) show a progress bar.

    Example (every family shares `PixelCNN`'s compile / fit / generate
    workflow; here a model for any length continuing two given starts):

    >>> import numpy as np
    >>> model = WaveNet(levels=16, residual_channels=8, skip_channels=16,
    ...                 dilations=[1, 2, 4, 8])
    >>> model.receptive_field  # steps of the past that a step sees
    16
    >>> start = np.random.randint(0, 16, size=(2, 5))
    >>> audio = model.generate(num_samples=2, length=40, prefix=start, seed=0)
    >>> audio.shape, bool((audio[:, :5] == start).all())
    ((2, 40), True)
    """

    def __init__(
        self,
        levels=256,
        sequence_length=None,
        residual_channels=32,
        skip_channels=64,
        kernel_size=2,
        dilations=None,
        num_stacks=1,
        num_classes=None,
        **kwargs,
    ):
        if sequence_length is not None:
            sequence_length = check_int("sequence_length", sequence_length, minimum=1)
        super().__init__(
            levels=levels,
            event_shape=(sequence_length,),
            num_classes=num_classes,
            **kwargs,
        )
        self.sequence_length = sequence_length
        self.residual_channels = check_int(
            "residual_channels", residual_channels, minimum=1
        )
        self.skip_channels = check_int("skip_channels", skip_channels, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.num_stacks = check_int("num_stacks", num_stacks, minimum=1)
        if dilations is None:
            dilations = [2**i for i in range(10)] * self.num_stacks
        if not isinstance(dilations, (list, tuple)) or not dilations:
            raise ValueError(
                f"`dilations` must be a non-empty list of ints >= 1, got {dilations!r}"
            )
        self.dilations = [check_int("dilations", d, minimum=1) for d in dilations]

        # Index `levels` is the start symbol that the right shift puts first.
        self.embedding = keras.layers.Embedding(
            self.levels + 1,
            self.residual_channels,
            dtype=self.dtype_policy,
            name="embedding",
        )
        conditioning = self.num_classes
        self.blocks = [
            WaveNetResidualBlock(
                self.residual_channels,
                self.skip_channels,
                kernel_size=self.kernel_size,
                dilation_rate=d,
                global_conditioning_channels=conditioning,
                # Nothing reads the last block's residual output.
                use_residual_projection=i < len(self.dilations) - 1,
                dtype=self.dtype_policy,
                name=f"block_{i}",
            )
            for i, d in enumerate(self.dilations)
        ]
        self.head_hidden = keras.layers.Dense(
            self.skip_channels, dtype=self.dtype_policy, name="head_hidden"
        )
        self.head_logits = keras.layers.Dense(
            self.levels, dtype=self.dtype_policy, name="head_logits"
        )

        # Weights are made now, so that `.keras` loading and `summary()`
        # work before the model has seen data.
        self.embedding.build((None, None))
        stream = (None, None, self.residual_channels)
        cond_shape = None if conditioning is None else (None, conditioning)
        for block in self.blocks:
            block.build(stream, cond_shape)
        self.head_hidden.build((None, None, self.skip_channels))
        self.head_logits.build((None, None, self.skip_channels))
        self.built = True

    @property
    def receptive_field(self):
        """Number of past samples `R` that the logits at step `t` see.

        The logits at `t` depend on `x_{t-R}, ..., x_{t-1}` (and on nothing
        else), with `R = 1 + sum_l (kernel_size - 1) * dilation_l`.
        """
        return 1 + sum((self.kernel_size - 1) * d for d in self.dilations)

    # ------------------------------------------------------------------
    def _conditioning(self, labels):
        if labels is None:
            return None
        return ops.one_hot(ops.cast(labels, "int32"), self.num_classes)

    def _head(self, skip_sum):
        hidden = self.head_hidden(ops.relu(skip_sum))
        return self.head_logits(ops.relu(hidden))

    def call(self, inputs, training=False):
        x, labels = self.unpack_inputs(inputs)
        if len(x.shape) != 2:
            raise ValueError(
                f"WaveNet expects int inputs of shape (batch, time), got {tuple(x.shape)}"
            )
        x = ops.cast(x, "int32")
        # Shift right by one with the start symbol: the network input at step
        # t is x_{t-1}, so the output at t never sees x_t.
        start = ops.full_like(x[:, :1], self.levels)
        shifted = ops.concatenate([start, x[:, :-1]], axis=1)
        stream = self.embedding(shifted)
        conditioning = self._conditioning(labels)
        skip_sum = None
        for block in self.blocks:
            if conditioning is None:
                stream, skip = block(stream)
            else:
                stream, skip = block(stream, conditioning)
            skip_sum = skip if skip_sum is None else skip_sum + skip
        return self._head(skip_sum)

    def element_log_probs(self, x, outputs):
        return categorical_log_prob(outputs, x)  # (B, T)

    # ------------------------------------------------------------------
    # Generation
    def _generation_setup(self, num_samples, length=None, prefix=None):
        if length is None:
            if self.sequence_length is None:
                raise ValueError(
                    "`length` is required: this WaveNet was built with "
                    "sequence_length=None"
                )
            length = self.sequence_length
        length = check_int("length", length, minimum=1)
        if self.sequence_length is not None and length != self.sequence_length:
            raise ValueError(
                f"`length` must equal the model's sequence_length="
                f"{self.sequence_length} (or be None), got {length}"
            )
        x0 = np.zeros((num_samples, length), "int32")
        start = 0
        if prefix is not None:
            prefix = self._given_prefix(
                prefix, num_samples, (length,), "first samples", "steps"
            )
            start = prefix.shape[1]
            x0[:, :start] = prefix
        return x0, start, length

    def _prepare_loop(self, state, start, use_cache):
        if use_cache:
            queues = self._init_queues(state["x"], state.get("labels"), start)
            state = {**state, "queues": queues}
        return state, start

    def _serving_prefix(self):
        return ("prefix", "prefix_length", 1)

    def _init_queues(self, x, labels, prefix_steps):
        """One ring buffer per block, `(B, (k-1) d, residual_channels)`.

        Slot `s % size` holds the block's input at step `s`. Zeros stand for
        the steps before the start, which is the convolutions' zero padding;
        with a prefix of `P` samples, the buffers hold the blocks' inputs at
        steps `P - size, ..., P - 1`, taken from one full forward pass.
        Written in `keras.ops` with a symbolic batch, so that it also runs
        inside an exported graph.
        """
        batch = ops.shape(x)[0]
        sizes = [block.queue_size for block in self.blocks]
        if prefix_steps == 0:
            return [
                ops.zeros((batch, size, self.residual_channels), self.compute_dtype)
                for size in sizes
            ]
        # The last step a prefix of P samples decides is the input at P - 1
        # (= x_{P-2}); inputs from step P on are computed by the sampler.
        inputs = self._block_inputs(x[:, :prefix_steps], labels)
        queues = []
        for size, block_in in zip(sizes, inputs):
            # Slot j holds the step s in [P - size, P) with s = j (mod size),
            # or zeros where that step is before the start (s < 0).
            first = prefix_steps - size
            steps = np.array([first + (j - first) % size for j in range(size)])
            past = ops.take(block_in, np.maximum(steps, 0).astype("int32"), axis=1)
            valid = (steps >= 0).astype("float32")[None, :, None]
            queues.append(ops.cast(past * ops.cast(valid, past.dtype), self.compute_dtype))
        return queues

    def _block_inputs(self, x, labels):
        """Each block's input over the steps of `x`."""
        x = ops.cast(x, "int32")
        start = ops.full_like(x[:, :1], self.levels)
        stream = self.embedding(ops.concatenate([start, x[:, :-1]], axis=1))
        conditioning = self._conditioning(labels)
        inputs = []
        for block in self.blocks:
            inputs.append(stream)
            if conditioning is None:
                stream, _ = block(stream)
            else:
                stream, _ = block(stream, conditioning)
        return inputs

    def _generation_step(self, i, state, noise_i, temperature, use_cache):
        x = state["x"]
        i = ops.cast(i, "int32")
        if use_cache:
            logits, queues = self._cached_logits(i, state)
            state = {**state, "queues": queues}
        else:
            outputs = self(self.pack_inputs(x, state.get("labels")), training=False)
            logits = ops.take(outputs, i, axis=1)
        value = ops.cast(sample_categorical(logits, noise_i[:, 0], temperature), "int32")
        if "given_steps" in state:
            # A prefix given per sample (the exported `generate_from_prefix`): its steps
            # keep their values and still fill the queues.
            value = ops.where(i < state["given_steps"], ops.take(x, i, axis=1), value)
        update = ops.reshape(value, (-1, 1))
        return {**state, "x": loop_slice_update(x, [0, i], update)}

    def _cached_logits(self, i, state):
        """The logits at step `i` from the queues (Paine et al., 2016)."""
        x = state["x"]
        # Network input at step i: x_{i-1}, or the start symbol at i = 0.
        previous = ops.take(x, ops.maximum(i - 1, 0), axis=1)
        token = ops.where(i > 0, previous, ops.full_like(previous, self.levels))
        current = self.embedding(token)  # (B, residual_channels)
        conditioning = self._conditioning(state.get("labels"))
        skip_sum = None
        queues = []
        for block, queue in zip(self.blocks, state["queues"]):
            size = block.queue_size
            if size:
                # Inputs at i - (k-1) d, ..., i - d (oldest first), at ring
                # slots (s mod size); `+ size` keeps the operand >= 0.
                d = block.dilation_rate
                # (Python offsets, not a NumPy array: on PyTorch converting
                # one at every step is a graph break under torch.compile.)
                slots = ops.stack(
                    [
                        ops.mod(i - k * d + size, size)
                        for k in range(self.kernel_size - 1, 0, -1)
                    ]
                )
                past = ops.take(queue, slots, axis=1)
                taps = ops.concatenate(
                    [ops.cast(past, current.dtype), current[:, None]], axis=1
                )
                # The slot of step i - (k-1) d, just read, now takes step i.
                queue = loop_slice_update(
                    queue,
                    [0, ops.mod(i, size), 0],
                    ops.cast(current[:, None], queue.dtype),
                )
            else:
                taps = current[:, None]
            queues.append(queue)
            current, skip = block.step(taps, conditioning)
            skip_sum = skip if skip_sum is None else skip_sum + skip
        return self._head(skip_sum), queues

    # ------------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "levels": self.levels,
            "sequence_length": self.sequence_length,
            "residual_channels": self.residual_channels,
            "skip_channels": self.skip_channels,
            "kernel_size": self.kernel_size,
            "dilations": list(self.dilations),
            "num_stacks": self.num_stacks,
            "num_classes": self.num_classes,
        }
