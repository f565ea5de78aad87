"""A plugin whose cost model prices every group at NaN."""

from sharedsvc import CostModel, Field, hookimpl


class NotANumber(CostModel):
    name = "not_a_number"
    member_fields = (Field(name="cost", unit="pounds a year", minimum=0),)

    def standalone_cost(self, participant, params):
        return participant.fields["cost"]

    def group_running_cost(self, participants, params):
        return float("nan")


@hookimpl
def sharedsvc_register_cost_models(register):
    register(NotANumber())
