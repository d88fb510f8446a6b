"""TensorFlow options for writing serving SavedModels (TF and JAX exports)."""


def serving_save_options():
    """`tf.saved_model.SaveOptions` for an inference-only SavedModel.

    jax2tf marks its functions with custom gradients, and by default
    `tf.saved_model.save` traces and stores a gradient function for each,
    which is most of the time a JAX export takes; a served model is never
    differentiated, so they are left out.
    """
    import tensorflow as tf

    return tf.saved_model.SaveOptions(experimental_custom_gradients=False)
