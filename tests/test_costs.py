"""Tests of costs.py: the cost model that orders a study's work and estimates its time."""
from batchgrow.training import costs
from batchgrow import optimizers
from batchgrow import schedules
from batchgrow import study


def test_the_cost_model_estimates_an_unknown_network_from_its_parameter_count():
    settings = study.Settings()
    plan = schedules.epoch_plans("ibs", "sgd", settings)[0]
    assert costs.unmeasured(["mlp300", "tiny_mlp"]) == ["tiny_mlp"]
    small, large = ({"mine": count} for count in (25_000, 2_500_000))
    for optimizer in optimizers.ALL_OPTIMIZERS:
        assert 0 < costs.epoch_cost("mine", optimizer, plan, settings, small) < \
            costs.epoch_cost("mine", optimizer, plan, settings, large)
    # Of the order of the measured networks at their own size.
    measured = costs.epoch_cost("mlp300", "adam", plan, settings)
    estimated = costs.epoch_cost("mine", "adam", plan, settings, {"mine": 238_510})
    assert 0.5 < estimated / measured < 3
