"""Pricing: cost models price groups (`pricer`), and the allowed groups become candidates.

`costmodel` is the plugins' contract, `groups` the array layout of many groups,
`pricer` the one place that calls cost-model code, `candidates` the enumeration and
pruning of the groups the constraints allow.
"""
