"""Solving: from priced candidates to a proven plan.

`build` makes the PuLP model and names its columns, `blocks` splits services that
no constraint ties and runs them in threads, `strategy` decides how each block is
solved (LP, fixing, the search, a MIP), `relaxation`, `fixing` and `search` are
those steps, and `backends` runs CBC or HiGHS and says honestly what came back.
"""
