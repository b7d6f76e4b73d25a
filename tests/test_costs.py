"""Tests of costs.py: the cost model that orders a study's work and estimates its time."""
import pytest

from batchgrow.training import costs, grid
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


def test_a_stacked_group_is_priced_at_its_seeds_stacked_share():
    settings = study.Settings()
    one_seed = costs.group_cost(grid.Group("lenet5", "sgd", 0, ("dlr", "ibs")), settings)
    five_seeds = grid.StackedGroup("lenet5", "sgd", (0, 1, 2, 3, 4), ("dlr", "ibs"))
    assert costs.group_cost(five_seeds, settings) == pytest.approx(5 * costs.STACKED_SEED_SHARE * one_seed)
    # Priced as trained seed by seed, its fallback: five seeds' worth.
    assert costs.group_cost(five_seeds, settings, stacked=False) == pytest.approx(5 * one_seed)
    # A stack of one seed saves nothing.
    assert costs.group_cost(five_seeds._replace(seeds=(3,)), settings) == pytest.approx(one_seed)
    assert costs.stacked_seeds_cost(1) == 1 and costs.stacked_seeds_cost(20) == pytest.approx(
        20 * costs.STACKED_SEED_SHARE)
