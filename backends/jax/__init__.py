"""JAX backend: Flax (linen) networks trained with Optax, jitted per step or scanned per epoch."""
