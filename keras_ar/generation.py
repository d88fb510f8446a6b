"""What every `generate` shares: the uniforms, the chunks, the progress bar.

- `draw_noise`: the per-step uniforms, drawn up front with NumPy as one
  `(steps, num_samples, width)` array. A chunk of samples takes its columns,
  so the samples for a seed do not depend on how the batch is chunked.
- `run_in_chunks`: draws `num_samples` in chunks of `batch_size`, so that
  the loop state (caches, queues, activations) of only one chunk is alive
  at a time. When there are several chunks the last one is padded (with
  copies of its last sample) to the chunk size, so that a compiled loop
  sees one batch shape and traces once.
- `GenerationProgress`: a `keras.utils.Progbar` over the steps of all
  chunks. Inside a chunk the loop runs in blocks of steps (one compiled
  call per block, never a host callback inside the loop), so the bar costs
  a few calls per chunk and nothing per step.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_ar.backend.compiled_loop import generate_call, set_later_steps
from keras_ar.validation import check_int

#: Largest default chunk (samples per loop).
MAX_DEFAULT_BATCH = 1024
#: Default budget for the loop state of one chunk, in bytes.
STATE_BUDGET_BYTES = 256 * 2**20
#: With verbose="auto" the bar shows from this many steps (all chunks) on...
AUTO_VERBOSE_STEPS = 8192
#: ... or from this many chunks on.
AUTO_VERBOSE_CHUNKS = 8
#: A progress bar updates about this many times per chunk.
BLOCKS_PER_CHUNK = 20


def draw_noise(seed, steps, num_samples, width):
    """Uniforms in [0, 1), float32 `(steps, num_samples, width)`."""
    rng = np.random.default_rng(seed)
    return rng.random((steps, num_samples, width), dtype=np.float32)


def loop_state_bytes(state):
    """Bytes held by the tensors of a loop state (a nested structure)."""
    total = 0
    for value in keras.tree.flatten(state):
        shape = getattr(value, "shape", ())
        dtype = keras.backend.standardize_dtype(getattr(value, "dtype", "float32"))
        total += int(np.prod([int(d) for d in shape])) * np.dtype(
            "float32" if dtype == "bfloat16" else dtype
        ).itemsize
    return total


def generation_batch_size(batch_size, num_samples, state_bytes):
    """The chunk size: `batch_size`, or, if None, at most `MAX_DEFAULT_BATCH`
    samples and at most `STATE_BUDGET_BYTES` of loop state (`state_bytes()`
    returns the bytes of one sample's state)."""
    if batch_size is not None:
        return min(check_int("batch_size", batch_size, minimum=1), num_samples)
    if num_samples <= 1:
        return num_samples
    per_sample = max(1, state_bytes())
    size = max(1, min(MAX_DEFAULT_BATCH, STATE_BUDGET_BYTES // per_sample))
    return min(size, num_samples)


def check_verbose(verbose):
    if verbose == "auto" or verbose in (0, 1) or isinstance(verbose, bool):
        return verbose
    raise ValueError(f'`verbose` must be "auto", 0 or 1, got {verbose!r}')


def run_in_chunks(run_chunk, num_samples, batch_size, steps, verbose, state_bytes):
    """Calls `run_chunk(rows, progress)` per chunk and joins the results.

    Args:
        run_chunk: `run_chunk(rows, progress) -> array` (or a tuple of
            arrays), the samples of the example indices `rows` (a NumPy
            int array) along axis 0; `progress.run_steps` runs its loop.
        num_samples: total number of samples.
        batch_size: samples per chunk, or None for the default.
        steps: loop steps per chunk (for the progress bar).
        verbose: "auto", 0 or 1.
        state_bytes: `() -> int`, the loop state of one sample, in bytes.
    """
    verbose = check_verbose(verbose)
    size = generation_batch_size(batch_size, num_samples, state_bytes)
    num_chunks = math.ceil(num_samples / size)
    # The loop's own one-line messages (PyTorch: compiling the step, or a
    # long eager call) follow the setting as given.
    said = verbose if verbose == "auto" else int(bool(verbose))
    if verbose == "auto":
        verbose = (
            steps * num_chunks >= AUTO_VERBOSE_STEPS or num_chunks >= AUTO_VERBOSE_CHUNKS
        )
    progress = GenerationProgress(steps * num_chunks, bool(verbose))
    results = []
    with generate_call(said):
        for begin in range(0, num_samples, size):
            count = min(size, num_samples - begin)
            # The last chunk repeats its last sample to the common size.
            rows = np.minimum(np.arange(begin, begin + size), num_samples - 1)
            result = run_chunk(rows, progress)
            results.append(_take_rows(result, count))
    progress.done()
    if len(results) == 1:
        return results[0]
    if isinstance(results[0], tuple):
        return tuple(np.concatenate(parts) for parts in zip(*results))
    return np.concatenate(results)


def _take_rows(result, count):
    if isinstance(result, tuple):
        return tuple(r[:count] for r in result)
    return result[:count]


class GenerationProgress:
    """A progress bar over generation steps (or nothing when disabled)."""

    def __init__(self, total_steps, enabled):
        self.enabled = enabled and total_steps > 0
        self.bar = (
            keras.utils.Progbar(total_steps, unit_name="step") if self.enabled else None
        )
        self.total = total_steps
        self.count = 0

    def run_steps(self, run, state, noise, start, stop, temperature):
        """`run(state, noise, start, stop, temperature)` over [start, stop),
        in blocks when the bar is shown."""
        start, stop = int(start), int(stop)
        if not self.enabled or stop <= start:
            # The steps of the call after this loop (its later chunks).
            set_later_steps(self.total - self.count - (stop - start))
            state = run(state, noise, start, stop, temperature)
            self.count += max(0, stop - start)
            return state
        block = max(1, math.ceil((stop - start) / BLOCKS_PER_CHUNK))
        for begin in range(start, stop, block):
            end = min(stop, begin + block)
            set_later_steps(self.total - self.count - (end - begin))
            state = run(state, noise, begin, end, temperature)
            # Wait for the block (JAX dispatches asynchronously), so that the
            # bar shows real progress: one element of the state is enough.
            ops.convert_to_numpy(ops.reshape(keras.tree.flatten(state)[0], (-1,))[:1])
            self.count = min(self.bar.target, self.count + end - begin)
            self.bar.update(self.count)
        return state

    def done(self):
        if self.enabled and self.count < self.bar.target:
            self.bar.update(self.bar.target, finalize=True)
