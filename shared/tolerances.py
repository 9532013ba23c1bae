"""How closely every backend must agree with the NumPy reference, stated once.

float64: the frameworks may only sum in a different order, so agreement is to ~1e-9
relative. float32: ~1e-4 relative. ``atol`` covers values that are nearly zero.
Used by the tests (asserted) and by the benchmark's per-cell parity check (reported).
"""

TOLERANCES = {
    "float64": {"rtol": 1e-9, "atol": 1e-12},
    "float32": {"rtol": 1e-4, "atol": 1e-6},
}
PARITY_STEPS = 10
# The DQN's TD-step checks: this many steps, the target network synced after step 2
# (so that later steps bootstrap from weights the online network has left behind).
TD_PARITY_STEPS = 5
TD_SYNC_AFTER = 2
# A float32 cell beyond TOLERANCES is judged against the NumPy reference's own float32
# rounding measured on its steps (benchmarks.parity_envelope): within this multiple of it
# (never tighter than TOLERANCES). The backend and the float32 reference each lie about
# one envelope from exact arithmetic and may round in opposite directions (2x), and a
# framework's kernels sum in orders the envelope's two probes do not try, which Adam
# amplifies weight by weight. Measured on the N-body brief/quick data (torch, jax, keras
# against an envelope of 630 tolerances on the weights, 0.2 on the loss, 1.6e-6 on the
# gradients): at most 1.2x. 10 leaves room for that while a real bug stays outside: one
# gradient scaled by 1.001 is 1e-3 norm-wise, 10x the gradients' bound there and ~100x
# their envelope.
ROUNDING_MULTIPLE = 10
