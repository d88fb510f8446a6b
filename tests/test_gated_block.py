import keras
import numpy as np
import pytest
from keras import ops

from keras_ar.backend import no_grad
from keras_ar.layers.gated_block import GatedBlock
from tests.helpers import dependency_mask, run_layer_test, to_numpy


def _random_weights(layers, scale=0.7, seed=0):
    """Random non-zero weights and biases, so that a missing dependency can
    only come from the architecture, never from a zero weight."""
    rng = np.random.default_rng(seed)
    for layer in layers:
        for w in layer.weights:
            w.assign(rng.normal(0.0, scale, size=tuple(w.shape)).astype("float32"))


def _data(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# ----------------------------------------------------------------------
# run_layer_test: shapes, config, save/load, a training step.
@pytest.mark.parametrize(
    "kwargs, channels",
    [
        (dict(filters=6, kernel_size=3, mask_type="A"), 1),
        (dict(filters=6, kernel_size=5, color_channels=3, residual=False), 3),
    ],
)
def test_layer_contract(kwargs, channels, tmp_path):
    v = _data(2, 4, 5, channels, seed=1)
    h = _data(2, 4, 5, channels, seed=2)
    run_layer_test(
        GatedBlock,
        kwargs,
        [v, h],
        expected_output_shape=[(2, 4, 5, 6), (2, 4, 5, 6)],
        tmp_path=tmp_path,
    )


def test_layer_contract_conditional(tmp_path):
    kwargs = dict(filters=6, kernel_size=3, color_channels=3, conditional=True)
    inputs = [_data(2, 4, 5, 6, seed=1), _data(2, 4, 5, 6, seed=2), _data(2, 2)]
    run_layer_test(
        GatedBlock,
        kwargs,
        inputs,
        expected_output_shape=[(2, 4, 5, 6), (2, 4, 5, 6)],
        tmp_path=tmp_path,
    )
    # The list form and the positional form are the same call.
    layer = GatedBlock(**kwargs)
    a = layer(inputs)
    b = layer(*inputs)
    for x, y in zip(a, b):
        np.testing.assert_allclose(to_numpy(x), to_numpy(y))
    assert layer.compute_output_shape([i.shape for i in inputs]) == [(2, 4, 5, 6)] * 2
    # The conditioning vector biases both stacks, at every position.
    _random_weights([layer])
    one_hot = np.eye(2, dtype="float32")
    a = layer(inputs[:2] + [one_hot])
    b = layer(inputs[:2] + [one_hot[::-1]])
    for x, y in zip(a, b):
        assert np.abs(to_numpy(x) - to_numpy(y)).min() > 0


# ----------------------------------------------------------------------
# Causality.
def _stack(channels, filters, kernel_sizes, seed=0):
    blocks = [GatedBlock(filters, kernel_sizes[0], "A", color_channels=channels)]
    blocks += [
        GatedBlock(filters, k, "B", color_channels=channels) for k in kernel_sizes[1:]
    ]

    def run(x):
        v = h = x
        for block in blocks:
            v, h = block([v, h])
        return v, h

    run(np.zeros((1, 2, 2, channels), "float32"))
    _random_weights(blocks, seed=seed)
    return blocks, run


def _expected_field(height, width, kernel_sizes):
    """Pixels (r', c') that the horizontal output at (r, c) of a stack can see,
    derived from the definition of the two stacks (not from the layer code):
    `field[r, c, r', c']`.

    Vertical stack, layer l: rows r-p..r, cols c-p..c+p of its input.
    Horizontal stack, layer l: cols c-p..c of its own row, plus layer l's
    vertical pre-activation at (r - 1, c).
    """
    hw = height * width

    def pix(r, c):
        return r * width + c

    # Reachability over pixels: v[l][p_out] = set of input pixels.
    v_prev = np.eye(hw, dtype=bool)  # the image is the first vertical input
    h_prev = np.eye(hw, dtype=bool)
    h_prev_strict = np.zeros((hw, hw), bool)  # mask "A": not the pixel itself
    for index, k in enumerate(kernel_sizes):
        p = k // 2
        v_pre = np.zeros((hw, hw), bool)
        h_new = np.zeros((hw, hw), bool)
        for r in range(height):
            for c in range(width):
                for dr in range(-p, 1):
                    for dc in range(-p, p + 1):
                        if 0 <= r + dr and 0 <= c + dc < width:
                            v_pre[pix(r, c)] |= v_prev[pix(r + dr, c + dc)]
        for r in range(height):
            for c in range(width):
                for dc in range(-p, 1):
                    if c + dc < 0:
                        continue
                    own = h_prev_strict if (index == 0 and dc == 0) else h_prev
                    h_new[pix(r, c)] |= own[pix(r, c + dc)]
                if r > 0:
                    h_new[pix(r, c)] |= v_pre[pix(r - 1, c)]
        v_prev, h_prev = v_pre, h_new
    return h_prev.reshape(height, width, height, width)


@pytest.mark.parametrize("kernel_sizes", [(3, 3), (5, 3, 3)])
def test_horizontal_stack_is_causal_and_blind_spot_free(kernel_sizes):
    height, width, filters = 4, 5, 6
    _, run = _stack(1, filters, kernel_sizes)
    x = _data(1, height, width, 1)
    dep = dependency_mask(lambda z: to_numpy(run(z)[1]), x)
    # dep[input pixel, output pixel] (any feature).
    dep = dep.reshape(height, width, height, width, filters).any(-1)
    seen = np.moveaxis(dep, (0, 1), (2, 3))  # seen[r, c, r', c']
    field = _expected_field(height, width, kernel_sizes)
    # Causal: only pixels before (r, c) in raster order are in the field.
    order = np.arange(height * width).reshape(height, width)
    before = order[None, None, :, :] < order[:, :, None, None]
    assert not np.any(field & ~before)
    # Exactly the receptive field: nothing outside (causality), nothing
    # missing (no blind spot), e.g. the pixel up and to the right.
    np.testing.assert_array_equal(seen, field)
    assert seen[2, 2, 1, 3] and seen[3, 1, 2, 2] and seen[3, 4, 3, 3]


def test_colour_groups_at_the_current_pixel():
    height, width, channels, filters = 3, 5, 3, 6
    _, run = _stack(channels, filters, (3, 3))
    x = _data(1, height, width, channels)
    dep = dependency_mask(lambda z: to_numpy(run(z)[1]), x)
    dep = dep.reshape(height, width, channels, height, width, filters)
    group = np.arange(filters) // (filters // channels)
    for r in range(height):
        for c in range(width):
            own = dep[r, c, :, r, c, :]  # (input channel, output feature)
            # Group g reads the current pixel's channels < g, and all of them.
            np.testing.assert_array_equal(
                own, np.arange(channels)[:, None] < group[None, :]
            )
            # Later pixels: no dependency at all.
            later = dep.reshape(height * width, channels, height, width, filters)
            assert not later[r * width + c + 1 :, :, r, c].any()


def test_vertical_stack_never_leaks_into_the_same_row():
    height, width, f = 4, 5, 6
    layer = GatedBlock(f, 3, "B")
    v = _data(1, height, width, f, seed=1)
    h = _data(1, height, width, f, seed=2)
    layer([v, h])
    _random_weights([layer])
    # Perturb the vertical input only.
    dep_h = dependency_mask(lambda z: to_numpy(layer([z, h])[1]), v)
    dep_h = dep_h.reshape(height, width, f, height, width, f).any(axis=(2, 5))
    rows_in = np.arange(height)[:, None, None, None]
    rows_out = np.arange(height)[None, None, :, None]
    assert not np.any(dep_h & (rows_in >= rows_out))
    assert dep_h[1, 4, 2, 3]  # up-right pixel reaches the horizontal stack
    # The vertical output at (r, c) reads rows r-1..r, cols c-1..c+1.
    dep_v = dependency_mask(lambda z: to_numpy(layer([z, h])[0]), v)
    dep_v = dep_v.reshape(height, width, f, height, width, f).any(axis=(2, 5))
    r_in, c_in, r_out, c_out = np.meshgrid(
        *[np.arange(n) for n in dep_v.shape], indexing="ij"
    )
    window = (r_out - 1 <= r_in) & (r_in <= r_out) & (np.abs(c_in - c_out) <= 1)
    np.testing.assert_array_equal(dep_v, window)


# ----------------------------------------------------------------------
# The row/pixel methods of cached generation equal `call`.
def test_vertical_row_and_horizontal_at_match_call():
    conditional = True
    kwargs = dict(filters=6, kernel_size=5, color_channels=3, conditional=conditional)
    for mask_type, channels in (("A", 3), ("B", 6)):
        layer = GatedBlock(mask_type=mask_type, residual=mask_type == "B", **kwargs)
        v, h = _data(2, 4, 5, channels, seed=1), _data(2, 4, 5, channels, seed=2)
        cond = _data(2, 2, seed=3) if conditional else None
        inputs = [v, h] + ([cond] if conditional else [])
        layer(inputs)
        # Twice, with new weights the second time: the pixel step, which
        # keeps its flattened kernels while the weights are unchanged, must
        # follow them.
        for seed in (0, 1):
            _random_weights([layer], seed=seed)
            v_out, h_out = (to_numpy(t) for t in layer(inputs))
            link = np.zeros((2, 1, 5, 12), "float32")
            for r in range(4):
                v_row, next_link = layer.vertical_row(v, r, cond)
                np.testing.assert_allclose(
                    to_numpy(v_row)[:, 0], v_out[:, r], atol=1e-5
                )
                # Row r given apart (`last_row`), the cache's row r never read.
                stale = v.copy()
                stale[:, r:] = 7.0
                v_row_given, link_given = layer.vertical_row(
                    stale, r, cond, last_row=v[:, r : r + 1]
                )
                np.testing.assert_allclose(
                    to_numpy(v_row_given), to_numpy(v_row), atol=1e-5
                )
                np.testing.assert_allclose(
                    to_numpy(link_given), to_numpy(next_link), atol=1e-5
                )
                for c in range(5):
                    with no_grad():  # where the step caches its kernels
                        pixel = to_numpy(layer.horizontal_at(h, link, r, c, cond))
                    np.testing.assert_allclose(
                        pixel[:, 0, 0], h_out[:, r, c], atol=1e-5
                    )
                link = next_link


# ----------------------------------------------------------------------
# Bad arguments and inputs.
def test_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size"):
        GatedBlock(4, kernel_size=4)
    with pytest.raises(ValueError, match="kernel_size"):
        GatedBlock(4, kernel_size=0)
    with pytest.raises(TypeError, match="kernel_size"):
        GatedBlock(4, kernel_size=(3, 3))
    with pytest.raises(ValueError, match="mask_type"):
        GatedBlock(4, mask_type="C")
    with pytest.raises(ValueError, match="filters"):
        GatedBlock(4, color_channels=3)
    with pytest.raises(ValueError, match="filters"):
        GatedBlock(0)
    with pytest.raises(TypeError, match="conditional"):
        GatedBlock(4, conditional=10)


def test_bad_inputs():
    x4 = np.zeros((2, 4, 5, 4), "float32")
    x6 = np.zeros((2, 4, 5, 6), "float32")
    cond = np.zeros((2, 2), "float32")
    with pytest.raises(ValueError, match="rank 4"):
        GatedBlock(4)([np.zeros((1, 3, 4), "float32"), x4])
    with pytest.raises(ValueError, match=r"\[v, h\]"):
        GatedBlock(4)(x4)
    with pytest.raises(ValueError, match="same width"):
        GatedBlock(4)([x4, np.zeros((2, 4, 2, 4), "float32")])
    with pytest.raises(ValueError, match="conditional=True"):
        GatedBlock(4, conditional=True)([x4, x4])
    with pytest.raises(ValueError, match="conditional=False"):
        GatedBlock(4)([x4, x4, cond])
    with pytest.raises(ValueError, match="cond"):
        GatedBlock(4, conditional=True)([x4, x4, np.zeros((2, 2, 2), "float32")])
    with pytest.raises(ValueError, match="residual"):
        GatedBlock(8)([x4, x4])
    with pytest.raises(ValueError, match="input channels"):
        GatedBlock(6, mask_type="A", color_channels=3)([x4, x4])
    # A built conditional layer still refuses a call without `cond`.
    layer = GatedBlock(6, color_channels=3, conditional=True)
    layer([x6, x6, cond])
    with pytest.raises(ValueError, match="conditional=True"):
        layer([x6, x6])
    with pytest.raises(ValueError, match="cond"):
        layer([x6, x6, np.zeros((2, 3), "float32")])


def test_symbolic_call_and_backend_tensors():
    v = keras.Input((4, 5, 1))
    c = keras.Input((2,))
    out = GatedBlock(6, 3, "A", conditional=True)([v, v, c])
    assert [tuple(o.shape) for o in out] == [(None, 4, 5, 6)] * 2
    t = ops.convert_to_tensor(_data(2, 4, 5, 6))
    out = GatedBlock(6)([t, t])
    assert tuple(out[1].shape) == (2, 4, 5, 6)
