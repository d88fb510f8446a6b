"""`PixelCNNPlusPlus` (Salimans et al., 2017), backend-agnostic."""

import collections

import keras
from keras import ops

from keras_ar.backend.constants import dense_call
from keras_ar.backend.slicing import (
    loop_cond,
    loop_slice,
    loop_slice_update,
    pad_zeros,
    updates_in_place,
)
from keras_ar.backend.step_ops import step_ops
from keras_ar.layers.mixture_of_logistics import MixtureOfLogistics
from keras_ar.layers.shifted_conv import (
    DownRightShiftedConv2D,
    DownRightShiftedConv2DTranspose,
    DownShiftedConv2D,
    DownShiftedConv2DTranspose,
    dilate_axis,
)
from keras_ar.models.image_model import ImageAutoregressiveModel
from keras_ar.ops.step_buffers import StepBuffers
from keras_ar.validation import check_int, check_rate


def concat_elu(x):
    """The paper's nonlinearity: `elu([x, -x])` (doubles the features)."""
    o = step_ops(x)  # in torch directly on PyTorch (an eager step's cost)
    return o.elu(o.concatenate([x, -x], axis=-1))


def gated_sum(x, h):
    """The gated residual: `x + a * sigmoid(b)`, `a, b` the halves of `h`."""
    o = step_ops(h)
    a, b = o.split(h, 2, axis=-1)
    return x + a * o.sigmoid(b)


def elu(x):
    """`ops.elu`, through `step_ops` (in torch directly on PyTorch)."""
    return step_ops(x).elu(x)


def _factor(flag, like):
    """`flag` as a multiplier of `like`: a Python float where it is known
    in Python (an eager step's position), else a tensor of `like`'s dtype."""
    return float(flag) if isinstance(flag, bool) else ops.cast(flag, like.dtype)


def down_shift(x):
    """Moves an image down one row (zeros on top): row i sees row i - 1."""
    return ops.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def right_shift(x):
    """Moves an image right one column (zeros on the left)."""
    return ops.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


class _GatedResnet(keras.layers.Layer):
    """The paper's gated residual block on one stream.

    `c1 = concat_elu(conv1(concat_elu(x)) + nin(concat_elu(aux)))`,
    dropout on `c1`, `a, b = split(conv2(c1))`, output `x + a * sigmoid(b)`.
    The "u" stream uses down-shifted (2, 3) kernels, the "ul" stream
    down-right-shifted (2, 2) ones. Split into `first` / `second` so that the
    cached path applies the same pieces to windows of cached activations.
    """

    def __init__(self, filters, stream, num_aux, dropout_rate, **kwargs):
        super().__init__(**kwargs)
        policy = self.dtype_policy
        conv_cls, kernel = (
            (DownShiftedConv2D, (2, 3))
            if stream == "u"
            else (DownRightShiftedConv2D, (2, 2))
        )
        self.filters = filters
        self.conv1 = conv_cls(filters, kernel, name="conv1", dtype=policy)
        self.conv2 = conv_cls(2 * filters, kernel, name="conv2", dtype=policy)
        self.aux_proj = (
            keras.layers.Dense(filters, name="aux_proj", dtype=policy)
            if num_aux
            else None
        )
        self.dropout = (
            keras.layers.Dropout(dropout_rate, dtype=policy)
            if dropout_rate > 0
            else None
        )

    def first(self, conv1_out, aux):
        h = conv1_out
        if self.aux_proj is not None:
            aux = concat_elu(step_ops(h).concatenate(aux, axis=-1))
            h = h + dense_call(self.aux_proj, aux)
        return concat_elu(h)

    def second(self, x, conv2_out):
        return gated_sum(x, conv2_out)

    def call(self, x, aux=(), training=False):
        c1 = self.first(self.conv1(concat_elu(x)), list(aux))
        if self.dropout is not None:
            c1 = self.dropout(c1, training=training)
        return self.second(x, self.conv2(c1))


# One node of the network: `kind` is "init", "down" (strided conv), "res"
# (gated resnet) or "up" (transposed conv); `stream` "u" or "ul"; `level`
# the resolution of the output (0 = full, l = 1 / 2**l).
_Op = collections.namedtuple("_Op", "kind stream level layer src aux out")


@keras.saving.register_keras_serializable(package="keras_ar")
class PixelCNNPlusPlus(ImageAutoregressiveModel):
    """PixelCNN++ with a discretized logistic mixture head.

    The architecture of Salimans et al. (2017), section 2: two streams, a
    down-shifted one ("u", which sees the rows above) and a down-right-
    shifted one ("ul", which also sees the pixels to the left), both made of
    gated resnet blocks with `concat_elu` and dropout. `num_hierarchies`
    resolutions are linked by stride-2 shifted convolutions on the way down
    and stride-2 transposed shifted convolutions on the way up, with
    shortcut connections from every block of the down pass to the matching
    block of the up pass (the "ul" blocks also take the "u" stream). The
    last "ul" features, through `elu`, give `MixtureOfLogistics` parameters
    for every pixel: each pixel is drawn whole, its colour channels coupled
    linearly inside the mixture (so `steps_per_pixel == 1`). Odd sizes are
    allowed: a level has `ceil(size / 2)` rows and columns of the one above.

    The TensorFlow Probability `PixelCNN` settings of the book are
    `PixelCNNPlusPlus((32, 32, 1), num_mixtures=5, num_resnet=1,
    num_hierarchies=2, num_filters=32, dropout_rate=0.3)`. Weight
    normalization and its data-dependent initialization (used in the paper)
    are not included; the convolutions use Keras' default initializers.

    Generation: `generate(use_cache=False)` runs the whole network for each
    pixel. `generate(use_cache=True)` keeps every activation of the network
    in a per-tensor cache and, at pixel `(r, c)`, computes only what becomes
    final there (Ramachandran et al., 2017, through the strided and
    transposed convolutions):

    - the "u" stream at row `r // 2**l` of each level `l`, once per image
      row (at `c == 0`): the "u" stream at a row depends only on the rows
      above, which are complete by then;
    - the "ul" stream at the one position `(r // 2**l, c // 2**l)` of level
      `l`, from 2x2 windows of the caches, and only at the pixel where that
      position becomes final: level 0 at every pixel, level `l > 0` at the
      pixels where `r` and `c` are both multiples of `2**l` (its inputs
      from the level above are complete there). Upsampling writes the
      low-resolution value into a zero-stuffed cache, so the transposed
      convolution is the same kernel over a window.

    A step therefore costs one position's worth of work per layer at each
    resolution whose position is new, plus, once per row, one row per "u"
    layer, instead of a full forward pass. The caches are updated in place
    (`keras_ar.ops.step_buffers`): under XLA a naive update copies every
    cache at every step, which cost more than the arithmetic. Both paths
    give the same samples for the same seed.

    Args:
        image_shape: `(height, width)` or `(height, width, channels)`.
        levels: values per channel (256 for 8-bit images).
        num_mixtures: logistic components of the output mixture.
        num_filters: features of both streams.
        num_resnet: gated resnet blocks per level on the way down (the way
            up has one more per level below the lowest resolution, as in
            the paper).
        num_hierarchies: resolutions (the paper uses 3).
        dropout_rate: dropout inside the gated resnet blocks (training only).

    Example (every family shares `PixelCNN`'s compile / fit / generate
    workflow; here a colour image of odd size, drawn a whole pixel at a
    time):

    >>> import numpy as np
    >>> model = PixelCNNPlusPlus((5, 5, 3), levels=8, num_mixtures=2,
    ...                          num_filters=8, num_resnet=1, num_hierarchies=2)
    >>> model.steps_per_pixel
    1
    >>> x = np.random.randint(0, 8, size=(2, 5, 5, 3))
    >>> model.log_prob(x).shape  # nats per image
    (2,)
    """

    config_args = (
        "num_mixtures",
        "num_filters",
        "num_resnet",
        "num_hierarchies",
        "dropout_rate",
    )

    def __init__(
        self,
        image_shape,
        levels=256,
        num_mixtures=5,
        num_filters=160,
        num_resnet=5,
        num_hierarchies=3,
        dropout_rate=0.5,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, levels=levels, **kwargs)
        self.num_mixtures = check_int("num_mixtures", num_mixtures, minimum=1)
        self.num_filters = check_int("num_filters", num_filters, minimum=1)
        self.num_resnet = check_int("num_resnet", num_resnet, minimum=0)
        self.num_hierarchies = check_int("num_hierarchies", num_hierarchies, minimum=1)
        self.dropout_rate = check_rate("dropout_rate", dropout_rate)
        channels = self.image_shape[-1]
        # One uniform picks the mixture component, one per channel draws it.
        self.noise_width = 1 + channels

        # Level sizes: ceil(size / 2) per level (strided shifted convs).
        height, width = self.image_shape[:2]
        self._sizes = [(height, width)]
        for _ in range(self.num_hierarchies - 1):
            h, w = self._sizes[-1]
            self._sizes.append((-(-h // 2), -(-w // 2)))

        policy = self.dtype_policy
        f, r, nh = self.num_filters, self.num_resnet, self.num_hierarchies

        def resnet(stream, num_aux, name):
            return _GatedResnet(
                f, stream, num_aux, self.dropout_rate, name=name, dtype=policy
            )

        # The paper's first layers: u = down_shift(conv_2x3(x)),
        # ul = down_shift(conv_1x3(x)) + right_shift(conv_2x1(x)).
        self.init_u_conv = DownShiftedConv2D(f, (2, 3), name="init_u", dtype=policy)
        self.init_ul_row_conv = DownShiftedConv2D(
            f, (1, 3), name="init_ul_row", dtype=policy
        )
        self.init_ul_col_conv = DownRightShiftedConv2D(
            f, (2, 1), name="init_ul_col", dtype=policy
        )
        self.down_u_resnets = [resnet("u", 0, f"down_u_{i}") for i in range(nh * r)]
        self.down_ul_resnets = [resnet("ul", 1, f"down_ul_{i}") for i in range(nh * r)]
        self.downsample_u = [
            DownShiftedConv2D(
                f, (2, 3), strides=2, name=f"downsample_u_{i}", dtype=policy
            )
            for i in range(nh - 1)
        ]
        self.downsample_ul = [
            DownRightShiftedConv2D(
                f, (2, 2), strides=2, name=f"downsample_ul_{i}", dtype=policy
            )
            for i in range(nh - 1)
        ]
        num_up = r + (nh - 1) * (r + 1)
        self.up_u_resnets = [resnet("u", 1, f"up_u_{i}") for i in range(num_up)]
        self.up_ul_resnets = [resnet("ul", 2, f"up_ul_{i}") for i in range(num_up)]
        self.upsample_u = [
            DownShiftedConv2DTranspose(
                f, (2, 3), strides=2, name=f"upsample_u_{i}", dtype=policy
            )
            for i in range(nh - 1)
        ]
        self.upsample_ul = [
            DownRightShiftedConv2DTranspose(f, (2, 2), strides=2, name=f"upsample_ul_{i}", dtype=policy)
            for i in range(nh - 1)
        ]  # fmt: skip
        self.head = MixtureOfLogistics(
            num_mixtures=self.num_mixtures, levels=self.levels,
            color_channels=channels, name="mixture", dtype=policy,
        )  # fmt: skip
        self._build_weights(symbolic=True)

    @property
    def steps_per_pixel(self):
        # The mixture draws a whole pixel (all channels, coupled) at once.
        return 1

    # -- the network ------------------------------------------------------
    def _plan(self):
        """The network as a list of `_Op`s in execution order; both the full
        forward pass and the cached generation step walk this one list.
        Returns `(plan, name of the last "ul" tensor)`."""
        r, nh = self.num_resnet, self.num_hierarchies
        plan = []

        def add(kind, stream, level, layer, src, aux=()):
            out = f"{stream}/{kind}{len(plan)}"
            plan.append(_Op(kind, stream, level, layer, src, aux, out))
            return out

        # Down pass; every output is pushed for the up pass's shortcuts.
        u_stack = [add("init", "u", 0, None, None)]
        ul_stack = [add("init", "ul", 0, None, None)]
        for level in range(nh):
            if level > 0:
                u_stack.append(
                    add("down", "u", level, self.downsample_u[level - 1], u_stack[-1])
                )
                ul_stack.append(
                    add(
                        "down", "ul", level, self.downsample_ul[level - 1], ul_stack[-1]
                    )
                )
            for k in range(r):
                n = level * r + k
                u = add("res", "u", level, self.down_u_resnets[n], u_stack[-1])
                u_stack.append(u)
                ul_stack.append(
                    add("res", "ul", level, self.down_ul_resnets[n], ul_stack[-1], (u,))
                )
        # Up pass: every tensor of the down pass is used once as a shortcut.
        u, ul = u_stack.pop(), ul_stack.pop()
        n = 0
        for level in reversed(range(nh)):
            for _ in range(r if level == nh - 1 else r + 1):
                u = add("res", "u", level, self.up_u_resnets[n], u, (u_stack.pop(),))
                shortcuts = (u, ul_stack.pop())
                ul = add("res", "ul", level, self.up_ul_resnets[n], ul, shortcuts)
                n += 1
            if level > 0:
                u = add("up", "u", level - 1, self.upsample_u[level - 1], u)
                ul = add("up", "ul", level - 1, self.upsample_ul[level - 1], ul)
        assert not u_stack and not ul_stack
        return plan, ul

    def call(self, inputs, training=False):
        x, _ = self.unpack_inputs(inputs)
        x_in = self._inputs_with_ones(x)
        plan, final = self._plan()
        t = {}
        for op in plan:
            if op.kind == "init" and op.stream == "u":
                t[op.out] = down_shift(self.init_u_conv(x_in))
            elif op.kind == "init":
                t[op.out] = down_shift(self.init_ul_row_conv(x_in)) + right_shift(
                    self.init_ul_col_conv(x_in)
                )
            elif op.kind == "down":
                t[op.out] = op.layer(t[op.src])
            elif op.kind == "res":
                t[op.out] = op.layer(
                    t[op.src], [t[a] for a in op.aux], training=training
                )
            else:  # "up": crop the 2x upsampled grid to the level's size.
                h, w = self._sizes[op.level]
                t[op.out] = op.layer(t[op.src])[:, :h, :w]
        params = self.head(ops.elu(t[final]))
        return ops.cast(params, "float32")

    def element_log_probs(self, x, outputs):
        return self.head.log_prob(x, outputs)  # (B, H, W): whole pixels

    def _sample_pixel(self, pixel_outputs, channel, noise_i, temperature):
        # The whole pixel at once (`channel` is always 0 here).
        return self.head.sample(pixel_outputs, noise_i, temperature)

    # -- cached generation -----------------------------------------------
    # Every tensor of level l is cached as (B, H_l + 1, W_l + 2, F): one
    # zero row on top and one zero column on each side, the padding the
    # shifted convolutions add. Real position (i, j) is at (i + 1, j + 1).
    def _init_cache(self, batch_size, state):
        plan, _ = self._plan()
        dtype = self.compute_dtype
        f = self.num_filters

        def zeros(level, features):
            h, w = self._sizes[level]
            return ops.zeros((batch_size, h + 1, w + 2, features), dtype)

        # The network's input, zero-padded as the first layers read it (two
        # rows on top, a column on each side); each sampled pixel is written
        # into it (`_cache_pixel_written`) instead of rebuilding it from the
        # whole image at every step.
        cache = {"x_pad": self._padded_input(state["x"])}
        for op in plan:
            cache[op.out] = zeros(op.level, f)
            if op.kind == "res":
                cache[op.out + "/c1"] = zeros(op.level, 2 * f)
            if op.kind == "up":
                cache[op.out + "/stuffed"] = zeros(op.level, f)
        return cache

    def _padded_input(self, x):
        # Two rows of zeros on top: the first layer of "u" reads two rows up.
        return pad_zeros(self._inputs_with_ones(x), [[0, 0], [2, 0], [1, 1], [0, 0]])

    def _cache_pixel_written(self, state, row, col):
        x, cache = state["x"], state["cache"]
        batch, _, _, channels = ops.shape(x)
        pixel = loop_slice(x, [0, row, col, 0], [batch, 1, 1, channels])
        x_pad = loop_slice_update(
            cache["x_pad"], [0, row + 2, col + 1, 0], self._inputs_with_ones(pixel)
        )
        return {**state, "cache": {**cache, "x_pad": x_pad}}

    def _cached_pixel_outputs(self, state, row, col):
        x_pad = state["cache"]["x_pad"]
        caches = {k: v for k, v in state["cache"].items() if k != "x_pad"}
        buffers = StepBuffers(caches, never=row < 0)
        plan, final = self._plan()
        u_ops = [op for op in plan if op.stream == "u"]
        ul_ops = [op for op in plan if op.stream == "ul"]
        # The "u" stream at a row depends only on the rows above: new rows
        # of it are final at the first pixel of each image row.
        self._when_final(
            buffers, col == 0, u_ops, row, col,
            lambda inner: self._cached_u_ops(inner, u_ops, x_pad, row, 0),
            key="u", rare=True,
        )  # fmt: skip
        self._cached_ul_ops(buffers, ul_ops, x_pad, row, col, level=0)
        batch = ops.shape(x_pad)[0]
        depth = buffers.shape(final)[3]
        features = buffers.read(final, [0, row + 1, col + 1, 0], [batch, 1, 1, depth])
        params = dense_call(self.head, elu(features))
        o = step_ops(params)
        params = o.reshape(o.cast(params, "float32"), (batch, self.head.num_params))
        # The parameters are computed from every read of this step.
        cache = {**buffers.commit(after=params), "x_pad": x_pad}
        return params, {**state, "cache": cache}

    def _write_starts(self, op, row, col):
        """Where `op` writes in its caches at pixel `(row, col)`, as
        `{cache name: (start, width)}`: a whole row of a "u" cache, one
        position of a "ul" cache, at `(row, col) // 2**level` (and the
        zero-stuffed input of an upsampling at twice the position of the
        level below)."""
        scale = 2**op.level
        i, low_i = row // scale, row // (2 * scale)
        width = self._sizes[op.level][1]
        if op.stream == "u":
            place, low_place = [0, i + 1, 1, 0], [0, 2 * low_i + 1, 1, 0]
        else:
            j, low_j = col // scale, col // (2 * scale)
            place = [0, i + 1, j + 1, 0]
            low_place = [0, 2 * low_i + 1, 2 * low_j + 1, 0]
            width = 1
        starts = {op.out: (place, width)}
        if op.kind == "res":
            starts[op.out + "/c1"] = (place, width)
        if op.kind == "up":
            starts[op.out + "/stuffed"] = (low_place, width)
        return starts

    def _static_branches(self, step):
        """The outcome of every `_when_final` condition at `step` (a Python
        int), for `keras_ar.backend.slicing.loop_cond` on PyTorch."""
        row, col = divmod(int(step), self.image_shape[1])
        branches = {**super()._static_branches(step), "u": col == 0}
        for level in range(self.num_hierarchies):
            scale = 2 ** (level + 1)
            branches[f"u{level}"] = row % scale == 0
            branches[f"ul{level}"] = row % scale == 0 and col % scale == 0
        return branches

    def _when_final(
        self, buffers, final, stream_ops, row, col, run, key=None, rare=False
    ):
        """Runs `run(inner)` (which writes the caches of `stream_ops` into
        `inner`, a child of `buffers`) where `final` holds, and keeps what
        the caches hold at those places elsewhere.

        The condition returns the written values, not the caches: a branch
        that passes whole caches through makes XLA copy them every step.
        `rare`: `final` holds at few steps (the "u" stream's rows, once per
        image row) and nothing is pending in `buffers` for these caches;
        then on JAX and TensorFlow `run` goes in a loop run once or not at
        all, which writes in place, rather than a branch whose other side
        reads and rewrites all the written rows at every other step.
        """
        starts = {}
        for op in stream_ops:
            starts.update(self._write_starts(op, row, col))
        if rare and not updates_in_place():
            self._run_in_loop(buffers, final, list(starts), run)
            return

        def compute():
            inner = buffers.child()
            run(inner)
            return inner.pending()

        def write(values):
            for name, (start, _) in starts.items():
                if name in values:
                    buffers.write(name, values[name], start)

        if updates_in_place():
            # PyTorch writes in place: where `final` fails, the caches
            # already hold what `keep` would read and write back (and an
            # inner condition that wrote nothing leaves nothing pending).
            loop_cond(final, lambda: write(compute()), lambda: None, key=key)
            return

        def keep():
            return {
                name: buffers.read(
                    name,
                    start,
                    [buffers.shape(name)[0], 1, width, buffers.shape(name)[3]],
                )
                for name, (start, width) in starts.items()
            }

        write(loop_cond(final, compute, keep, key=key))

    def _run_in_loop(self, buffers, final, names, run):
        """`run(inner)` zero times or once (`final`), as a loop that carries
        the caches `names` and commits the writes in place; `buffers` then
        holds the loop's results."""

        def body(_, written):
            inner = StepBuffers({**buffers.old, **written}, never=buffers.never)
            run(inner)
            pending = list(inner.pending().values())
            # Every read of this run feeds a written value: tie the writes to
            # all of them (see StepBuffers.commit).
            after = ops.sum(
                ops.stack([ops.reshape(v[:1, :1, :1, :1], ()) for v in pending])
            )
            committed = inner.commit(after=after)
            return {name: committed[name] for name in names}

        start = {name: buffers.old[name] for name in names}
        buffers.replace(ops.fori_loop(0, ops.cast(final, "int32"), body, start))

    def _split_levels(self, stream_ops, level):
        """`stream_ops` as a list of items: an op of `level`, or a list (a
        maximal run of ops at lower resolutions, which nest)."""
        items = []
        for op in stream_ops:
            if op.level == level:
                items.append(op)
            elif items and isinstance(items[-1], list):
                items[-1].append(op)
            else:
                items.append([op])
        return items

    def _cached_u_ops(self, buffers, u_ops, x_pad, row, level):
        """The "u" `u_ops` at row `row // 2**l` of their level `l`, whole
        rows; a run of lower-resolution ops only at the rows where its row
        becomes final (`row` a multiple of `2**(level + 1)`)."""
        batch = ops.shape(x_pad)[0]

        def rows(name, start, count):
            shape = buffers.shape(name)
            return buffers.read(
                name, [0, start, 0, 0], [batch, count, shape[2], shape[3]]
            )

        def inner_row(name, i):
            shape = buffers.shape(name)
            return buffers.read(
                name, [0, i + 1, 1, 0], [batch, 1, shape[2] - 2, shape[3]]
            )

        for item in self._split_levels(u_ops, level):
            if isinstance(item, list):
                self._when_final(
                    buffers, row % 2 ** (level + 1) == 0, item, row, 0,
                    lambda inner, item=item: self._cached_u_ops(
                        inner, item, x_pad, row, level + 1
                    ),
                    key=f"u{level}",
                )  # fmt: skip
                continue
            op = item
            starts = self._write_starts(op, row, 0)
            i = row // (2**op.level)
            if op.kind == "init":
                # conv_2x3 at row - 1 (down_shift): x rows row - 2 .. row - 1.
                shape = ops.shape(x_pad)
                x_rows = loop_slice(
                    x_pad, [0, row, 0, 0], [batch, 2, shape[2], shape[3]]
                )
                value = self.init_u_conv.convolve(x_rows)
                value = value * ops.cast(row > 0, value.dtype)
            elif op.kind == "down":
                # Rows 2i - 1 .. 2i of the level above, stride 2 across.
                value = op.layer.convolve(rows(op.src, 2 * i, 2))
            elif op.kind == "res":
                layer = op.layer
                conv1 = layer.conv1.convolve(concat_elu(rows(op.src, i, 2)))
                aux = [inner_row(a, i) for a in op.aux]
                c1_name = op.out + "/c1"
                buffers.write(c1_name, layer.first(conv1, aux), starts[c1_name][0])
                conv2 = layer.conv2.convolve(rows(c1_name, i, 2))
                value = layer.second(inner_row(op.src, i), conv2)
            else:  # "up": stuff the new low-resolution row, then convolve.
                low_i = row // (2 ** (op.level + 1))
                low = dilate_axis(inner_row(op.src, low_i), 2, 2)
                width = self._sizes[op.level][1]
                stuffed_name = op.out + "/stuffed"
                buffers.write(stuffed_name, low[:, :, :width], starts[stuffed_name][0])
                value = op.layer.convolve(rows(stuffed_name, i, 2))
            buffers.write(op.out, value, starts[op.out][0])

    def _cached_ul_ops(self, buffers, ul_ops, x_pad, row, col, level):
        """The "ul" `ul_ops` at `(row, col) // 2**l` of their level `l`; a
        run of lower-resolution ops only at the pixels where its position
        becomes final (`row` and `col` multiples of `2**(level + 1)`)."""
        batch, _, _, x_depth = ops.shape(x_pad)

        def window(name, i, j, h=2, w=2):
            depth = buffers.shape(name)[3]
            return buffers.read(name, [0, i, j, 0], [batch, h, w, depth])

        def at(name, i, j):
            return window(name, i + 1, j + 1, 1, 1)

        def x_window(i, j, h, w):
            return loop_slice(x_pad, [0, i, j, 0], [batch, h, w, x_depth])

        for item in self._split_levels(ul_ops, level):
            if isinstance(item, list):
                scale = 2 ** (level + 1)
                if isinstance(row, int) and isinstance(col, int):  # eager PyTorch
                    final = row % scale == 0 and col % scale == 0
                else:
                    final = ops.logical_and(row % scale == 0, col % scale == 0)
                self._when_final(
                    buffers, final, item, row, col,
                    lambda inner, item=item: self._cached_ul_ops(
                        inner, item, x_pad, row, col, level + 1
                    ),
                    key=f"ul{level}",
                )  # fmt: skip
                continue
            op = item
            starts = self._write_starts(op, row, col)
            scale = 2**op.level
            i, j = row // scale, col // scale
            if op.kind == "init":
                # down_shift(conv_1x3(x)): x row - 1, columns col - 1 .. col + 1;
                # right_shift(conv_2x1(x)): x rows row - 1 .. row, column col - 1.
                above = self.init_ul_row_conv.convolve(x_window(row + 1, col, 1, 3))
                left = self.init_ul_col_conv.convolve(x_window(row + 1, col, 2, 1))
                value = above * _factor(row > 0, above) + left * _factor(col > 0, left)
            elif op.kind == "down":
                # Positions (2i - 1 .. 2i, 2j - 1 .. 2j) of the level above.
                value = op.layer.convolve(window(op.src, 2 * i, 2 * j))
            elif op.kind == "res":
                layer = op.layer
                conv1 = layer.conv1.convolve(concat_elu(window(op.src, i, j)))
                aux = [at(a, i, j) for a in op.aux]
                c1_name = op.out + "/c1"
                buffers.write(c1_name, layer.first(conv1, aux), starts[c1_name][0])
                conv2 = layer.conv2.convolve(window(c1_name, i, j))
                value = layer.second(at(op.src, i, j), conv2)
            else:  # "up"
                low_i, low_j = row // (2 * scale), col // (2 * scale)
                stuffed_name = op.out + "/stuffed"
                low = at(op.src, low_i, low_j)
                buffers.write(stuffed_name, low, starts[stuffed_name][0])
                value = op.layer.convolve(window(stuffed_name, i, j))
            buffers.write(op.out, value, starts[op.out][0])
