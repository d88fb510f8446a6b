"""Sums across data-parallel replicas, for losses that are ratios of sums.

keras_ar's default loss is `sum(nats) / sum(dims)` over the batch. How a
batch is split across devices depends on the backend:

- TensorFlow (`tf.distribute.MirroredStrategy`): every replica runs the
  train step on its own slice of the batch and the gradients are *summed*
  across replicas. A per-replica `sum(nats_r) / sum(dims_r)` would give the
  mean of the replicas' ratios times the number of replicas; dividing by the
  dimensions of the whole global batch instead makes the summed gradient the
  gradient of the single-device loss exactly (also when replicas hold
  different numbers of unpadded tokens).
- JAX (`keras.distribution.DataParallel`): the step is one SPMD program over
  the global batch, so the sums are already global.
- PyTorch: Keras has no replicas of its own (DDP averages gradients outside
  Keras): nothing to do.
"""

import keras


def sum_over_replicas(x):
    """`x` summed over the replicas of the current `tf.distribute` step
    (unchanged outside one, and on JAX and PyTorch). No gradient flows
    through the sum: it is used for normalizers only."""
    if keras.backend.backend() != "tensorflow":
        return x
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return x
    return context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(x))


def num_replicas_in_sync():
    """Replicas of the current `tf.distribute` strategy (1 elsewhere)."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync
