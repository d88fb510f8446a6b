"""`--distribute`: data-parallel training on every local device.

Through each backend's own engine, never a home-made one:

- JAX: `keras.distribution.DataParallel` over all devices (every GPU of the
  machine, or of every process in a multi-host run), set as Keras' global
  distribution before the model and its optimizer are created: variables
  are replicated, each batch is split along its first axis, and one SPMD
  program computes the step over the global batch. A multi-host run calls
  `keras.distribution.initialize()` first when `KERAS_DISTRIBUTION_*`
  variables say so (see the README), and each process then feeds its own
  shard of the data (`Distribution.shard`).
- TensorFlow: `tf.distribute.MirroredStrategy` over the logical GPUs (else
  the logical CPUs), entered for the whole run so that the model and the
  optimizer are created in its scope. Keras 3's own TensorFlow distribution
  module is a prototype marked "do not use", hence tf.distribute.
- PyTorch: not supported: Keras' torch trainer has no data-parallel mode.
  `check_supported` says so and points to the DDP route.

`--batch-size` is the global batch: each of N devices gets batch/N examples
per step, so the loss curve is the single-device one (tested with two
virtual CPU devices).
"""

import os

TORCH_MESSAGE = (
    "--distribute is not supported on the torch backend: Keras' torch "
    "trainer runs model.fit() on one device and has no data-parallel mode "
    "(no counterpart of JAX's DataParallel or tf.distribute). To train on "
    "several GPUs with PyTorch, launch one process per GPU with torchrun and "
    "wrap the model in torch.nn.parallel.DistributedDataParallel in your own "
    "training loop (Keras guide: 'Multi-GPU distributed training with "
    "PyTorch'; loss: model.compute_loss(x=x, y_pred=model(x))); or run this "
    "recipe with --backend jax or --backend tensorflow and --distribute."
)


def check_supported(backend):
    """Raises ValueError (the torch message) where `--distribute` cannot run."""
    if backend == "torch":
        raise ValueError(TORCH_MESSAGE)


class Distribution:
    """The active data-parallel set-up of a run (see the module docstring).

    Attributes:
        backend: "jax" or "tensorflow".
        num_devices: devices the global batch is split over.
        num_processes, process_index: the multi-host layout (1 and 0 on
            one machine).
        description: one line for the recipe's log and metrics.json.
    """

    def __init__(self, backend):
        check_supported(backend)
        self.backend = backend
        self.num_processes, self.process_index = 1, 0
        self._scope = None
        if backend == "jax":
            self._start_jax()
        else:
            self._start_tensorflow()

    def _start_jax(self):
        import keras

        if os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES") or os.environ.get(
            "KERAS_DISTRIBUTION_JOB_ADDRESSES"
        ):
            keras.distribution.initialize()
        import jax

        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=devices)
        )
        self.num_devices = len(devices)
        self.num_processes = jax.process_count()
        self.process_index = jax.process_index()
        self.description = (
            f"keras.distribution.DataParallel over {self.num_devices} "
            f"device(s) ({devices[0].split(':')[0]}), "
            f"{self.num_processes} process(es)"
        )

    def _start_tensorflow(self):
        import tensorflow as tf

        devices = tf.config.list_logical_devices(
            "GPU"
        ) or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy([d.name for d in devices])
        self._scope = strategy.scope()
        self._scope.__enter__()
        self.strategy = strategy
        self.num_devices = strategy.num_replicas_in_sync
        self.description = (
            f"tf.distribute.MirroredStrategy over {self.num_devices} "
            f"device(s) ({devices[0].device_type})"
        )

    def check_batch_size(self, batch_size):
        """The global batch must split evenly over the devices."""
        if batch_size % self.num_devices:
            raise ValueError(
                f"--batch-size {batch_size} does not split over "
                f"{self.num_devices} devices: use a multiple of {self.num_devices}"
            )

    def shard(self, array):
        """This process's share of `array` (all of it on one machine): in a
        multi-host JAX run each process feeds its own examples."""
        if self.num_processes == 1:
            return array
        return array[self.process_index :: self.num_processes]

    def close(self):
        """Leaves the distribution (the model keeps its variables)."""
        if self.backend == "jax":
            import keras

            keras.distribution.set_distribution(None)
        elif self._scope is not None:
            self._scope.__exit__(None, None, None)
            self._scope = None
