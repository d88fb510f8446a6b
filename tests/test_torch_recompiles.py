"""The compiled PyTorch sampling step compiles a bounded number of times.

A step that makes a new Keras operation per call (Keras' `ops.cond`) or
reads a tensor back into Python (a slice at a tensor position) makes
`torch.compile` recompile at every step until it gives up. These tests count
the graphs that the compiler is handed (a counting `torch.compile` backend
that runs them as traced) while a model samples with the options a user
varies: stop tokens, seeds, temperatures, prompts and prefixes, samplers,
chunks of a batch size already seen. (`test_torch_compile.py` checks every
image family, WaveNet and MADE for repeated calls.)
"""

import keras
import pytest

from tests import tiny_models

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="the PyTorch sampling loop"
)

COUNTING = "keras_ar_test_counting"
GRAPHS = []


@pytest.fixture
def counting(monkeypatch):
    import torch._dynamo

    if COUNTING not in torch._dynamo.list_backends(exclude_tags=()):

        @torch._dynamo.register_backend(name=COUNTING)
        def count(graph_module, example_inputs):
            GRAPHS.append(graph_module)
            return graph_module.forward

    monkeypatch.setenv("KERAS_AR_TORCH_COMPILE", COUNTING)
    # Dynamo caches compiled code per function: a model of the same
    # configuration in an earlier test would reuse its graphs.
    torch._dynamo.reset()
    GRAPHS.clear()
    yield GRAPHS


def test_image_step_compiles_once_more_with_a_prefix(counting):
    model, x, _ = tiny_models.build("pixelcnn")

    def generate(**kwargs):
        return model.generate(verbose=0, **kwargs)

    generate(num_samples=3, seed=1)
    assert len(counting) == 1, len(counting)
    generate(num_samples=5, batch_size=3, seed=2, temperature=0.5)  # a size seen
    assert len(counting) == 1, len(counting)
    # A prefix adds the given steps to the loop state: one more graph, for
    # any prefix length.
    generate(num_samples=3, seed=3, prefix=x[:3, :1], temperature=0.5)
    generate(num_samples=3, seed=4, prefix=x[3:6, :2])
    assert len(counting) == 2, len(counting)


@pytest.mark.parametrize(
    "name, samplers",
    [("recurrent_lm", ["top_p"]), ("transformer_lm", [])],
)
def test_text_step_compiles_once_per_sampler_with_stop_tokens(name, samplers, counting):
    model, x, _ = tiny_models.build(name)

    def generate(**kwargs):
        kwargs.setdefault("stop_token_ids", [3])
        return model.generate(num_samples=3, verbose=0, **kwargs)

    generate(seed=1)
    # The stop-token test is no branch and the position no Python value:
    # one graph for every step.
    assert len(counting) == 1, len(counting)
    generate(seed=2, temperature=0.5)
    generate(seed=3, prompt=x[0, :2])
    assert len(counting) == 1, len(counting)
    for sampler in samplers:
        before = len(counting)
        generate(seed=6, sampler=sampler)
        generate(seed=7, sampler=sampler, temperature=0.8, prompt=x[1, :3])
        assert len(counting) == before + 1, [sampler, len(counting) - before]


def _eager_then_first_call_policy(monkeypatch, family, seed, pays):
    """`family`'s tiny model and 3 samples it draws eagerly for `seed` (the
    reference), then the first-call policy in force with compiling
    estimated to pay for itself or not (`pays`)."""
    from keras_ar.backend import compiled_loop

    model, _, _ = tiny_models.build(family)
    monkeypatch.setenv("KERAS_AR_TORCH_COMPILE", "0")
    eager = model.generate(num_samples=3, seed=seed, verbose=0)
    monkeypatch.delenv("KERAS_AR_TORCH_COMPILE")
    monkeypatch.setattr(compiled_loop, "AUTO_BACKEND", COUNTING)
    if pays:  # Any compilation is estimated to pay for itself.
        monkeypatch.setattr(compiled_loop, "AUTO_COMPILE_EAGER_STEPS", 0)
        monkeypatch.setattr(compiled_loop, "AUTO_COMPILE_MIN_SECONDS", 0.0)
    return model, eager


def test_first_call_policy_samples_eagerly_where_compiling_does_not_pay(
    counting, monkeypatch, capsys
):
    import numpy as np

    model, eager = _eager_then_first_call_policy(
        monkeypatch, "pixelcnn", seed=1, pays=False
    )
    # 9 steps: a compilation (>= 30 s estimated) never pays.
    np.testing.assert_array_equal(model.generate(num_samples=3, seed=1, verbose=0), eager)
    assert not counting
    # An explicit setting wins over the policy.
    monkeypatch.setenv("KERAS_AR_TORCH_COMPILE", COUNTING)
    np.testing.assert_array_equal(model.generate(num_samples=3, seed=1, verbose=0), eager)
    assert len(counting) == 1, len(counting)
    assert "compiling" not in capsys.readouterr().out


def test_first_call_policy_compiles_where_it_pays_and_says_so(
    counting, monkeypatch, capsys
):
    import numpy as np

    model, eager = _eager_then_first_call_policy(
        monkeypatch, "made", seed=2, pays=True
    )
    compiled = model.generate(num_samples=3, seed=2, verbose=1)
    np.testing.assert_array_equal(compiled, eager)
    assert len(counting) == 1, len(counting)
    out = capsys.readouterr().out
    assert out.count("compiling the PyTorch sampling step") == 1, out
    # Compiled for this shape: later calls reuse it, silently.
    model.generate(num_samples=3, seed=3, verbose=1)
    assert len(counting) == 1, len(counting)
    assert "compiling" not in capsys.readouterr().out
