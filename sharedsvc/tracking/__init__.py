"""Tracking: what each partnership of a kept plan delivers against what it promised.

`plan.py` reads a plan file back, `actuals.py` reads what was realised, `compare.py`
sets one against the other, `draws.py` spreads the forecast over the plan's uncertain
inputs and `replan.py` re-optimises the years that remain (`docs/tracking.md`).
"""
