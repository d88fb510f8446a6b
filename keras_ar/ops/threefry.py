"""Counter-based uniforms (Threefry-2x32) in `keras.ops`, for graphs.

`model.generate` draws its uniforms up front with NumPy. An exported
SavedModel cannot call NumPy, and the generation loop there must draw its
noise inside the graph, from a seed given at serving time, identically under
TensorFlow and under JAX. Threefry-2x32 with 20 rounds (Salmon et al., 2011,
"Parallel random numbers: as easy as 1, 2, 3"; the generator behind
`jax.random`) maps a key and a counter to random bits with nothing but
32-bit additions, rotations and xors, so it is a pure function written in
`keras.ops`: the same (seed, step, slot) gives the same uniform on every
backend with wrapping uint32 arithmetic (TensorFlow and JAX; not torch,
whose uint32 ops promote to int64).
"""

from keras import ops

# Rotation constants of Threefry-2x32 (Random123's R_32x2).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
# The key-schedule parity constant of the Threefish family.
_PARITY = 0x1BD11BDA


def _u32(x):
    return ops.cast(x, "uint32")


def _rotate_left(x, r):
    return ops.bitwise_or(ops.left_shift(x, _u32(r)), ops.right_shift(x, _u32(32 - r)))


def threefry2x32(key, counter):
    """Threefry-2x32 (20 rounds): `(key0, key1), (c0, c1) -> (x0, x1)`.

    Args:
        key: pair of uint32 tensors (broadcastable to one shape).
        counter: pair of uint32 tensors (broadcastable with the key).
    Returns:
        the pair of uint32 tensors of random bits.
    """
    k0, k1 = _u32(key[0]), _u32(key[1])
    schedule = (k0, k1, ops.bitwise_xor(ops.bitwise_xor(k0, k1), _u32(_PARITY)))
    x0 = _u32(counter[0]) + schedule[0]
    x1 = _u32(counter[1]) + schedule[1]
    for group in range(5):
        for r in _ROTATIONS[group % 2]:
            x0 = x0 + x1
            x1 = ops.bitwise_xor(_rotate_left(x1, r), x0)
        # Key injection after every four rounds.
        x0 = x0 + schedule[(group + 1) % 3]
        x1 = x1 + schedule[(group + 2) % 3] + _u32(group + 1)
    return x0, x1


def stateless_uniform(seeds, step, width):
    """U[0, 1) draws `(batch, width)` for one generation step.

    Sample b at step `step`, slot k gets the uniform of counter
    `(step, k)` under the key `(seeds[b], 0)`: each sample's noise depends
    on its own seed only, so a batch of seeds is a batch of independent
    generations, and a sample repeats whenever its seed does.

    Args:
        seeds: int tensor `(batch,)` (its bits are the key; negative seeds
            wrap around).
        step: int scalar tensor, the step index.
        width: Python int, the uniforms per sample and step.
    Returns:
        float32 `(batch, width)` in [0, 1), with 24 random bits each.
    """
    key0 = ops.expand_dims(_u32(seeds), -1)  # (B, 1)
    slots = ops.expand_dims(_u32(ops.arange(width, dtype="int32")), 0)  # (1, W)
    step = _u32(ops.reshape(step, (1, 1)))
    bits, _ = threefry2x32((key0, ops.zeros_like(key0)), (step + 0 * slots, slots))
    # The top 24 bits, exactly representable in float32, scaled into [0, 1).
    return ops.cast(ops.right_shift(bits, _u32(8)), "float32") * (1.0 / (1 << 24))
