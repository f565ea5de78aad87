"""Appraisal: money over time (`money`) and who gets what (`allocation`).

The home of the coming work on fair shares and stability: every allocation rule
and check reads one coalition-value function, `allocation.CoalitionGame`.
"""
