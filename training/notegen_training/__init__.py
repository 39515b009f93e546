"""notegen training: corpus readers, Keras models, ONNX export and evaluation (extra `train`)."""
