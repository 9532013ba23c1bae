"""JAX backend: Flax (linen) networks trained with Optax, jitted per step or scanned per epoch.

float64 needs ``jax_enable_x64``; it is set here, when any module of the backend is
first imported (it initialises no device). Every array the backend makes then carries
an explicit dtype, so float32 stays float32.
"""

import jax

from backends.common import jax_float64

jax_float64(jax)
