"""Uncertainty: the optimised plan evaluated under draws of its uncertain inputs.

`sampling` draws the inputs (seeded per draw, correlated per field), `evaluate`
prices a plan under one set of inputs, `simulate` runs the draws (in worker
processes when asked), the tornado and the switching values, and `summary` renders
what they found. `docs/uncertainty.md` explains them.
"""
