"""Keras 3 backend (TensorFlow by default; written against ``keras.ops`` so that the
same files can later run on Keras's JAX and PyTorch backends)."""
