"""Fair shares that hold: who gains what, and whether any coalition would walk away.

Every check here reads one game per service (`pricing/coalitions.py`): the
groups that could form on their own, each worth its npv. An allocation is stable
(in the core) when no such group is allocated less than it would get by itself;
`separation` finds the group that gains most by leaving, `nucleolus` computes the
`nucleolus`/`core` rules, `subsidy` the cost of stability, and `figures` each
member's share of the cash. `docs/fair-shares.md` explains them for a finance officer.
"""
