"""Vectorized sweeps: several same-structure trials trained as one compiled group program.

`policy` decides which experiments qualify, which trials share a program, K (how many at once) and XLA; `group`
trains one group (each trial the trial it would be alone: its weights, batch order, optimizer state, schedule,
early stopping and divergence guard); `program` is the compiled program, `updates` nnlab's batched Adam and SGD,
`dropout` the vectorizable dropout masks used while tracing. The sweep side (nnlab.sweeps.groups) forms groups with
keras-tuner's oracle and records them.
"""
