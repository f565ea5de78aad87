"""A plugin whose registration hook raises."""

from sharedsvc import hookimpl


@hookimpl
def sharedsvc_register_cost_models(register):
    raise RuntimeError("licence server unreachable")
