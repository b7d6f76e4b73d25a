"""The statistics of a verdict: Student t intervals and the TOST equivalence test.

Two schedules are called equivalent when the paired differences of their
final test accuracies lie within the margin study.EQUIVALENCE_MARGIN_PP,
shown by two one-sided t-tests at study.EQUIVALENCE_ALPHA each (TOST):
equivalence_test() turns a list of paired differences into the verdict that
every summary table gives. scipy gives the exact t quantiles for any n.
"""
import math

import numpy as np
from scipy import stats

from study import EQUIVALENCE_ALPHA, EQUIVALENCE_MARGIN_PP


def t_quantile(confidence, degrees_of_freedom):
    """Two-sided Student t quantile: the t with probability confidence between -t and t."""
    if degrees_of_freedom < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    return float(stats.t.ppf(0.5 + confidence / 2, degrees_of_freedom))


def mean_with_confidence_interval(values, confidence=0.95):
    """Return (mean, low, high) of a Student t interval; low and high are None for one value."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    half_width = (t_quantile(confidence, len(values) - 1) * values.std(ddof=1)
                  / math.sqrt(len(values)))
    return mean, mean - half_width, mean + half_width


def equivalence_test(differences, margin=EQUIVALENCE_MARGIN_PP, alpha=EQUIVALENCE_ALPHA):
    """Two one-sided t-tests (TOST) of paired differences against the margin ±margin.

    Returns a dict with the mean, the (1 - 2 alpha) interval (low, high), the
    TOST p-value (the larger of the p-values of "mean > -margin" and "mean <
    margin") and the verdict: "equivalent" when the interval lies inside
    (-margin, +margin), which is the same as a p-value below alpha; "not
    equivalent" when it lies wholly outside [-margin, +margin], so that the
    difference exceeds the margin at alpha, one-sided; otherwise "undecided".
    With fewer than two differences there is no spread to test with, and
    everything but the mean is None.
    """
    differences = np.asarray(differences, dtype=float)
    mean, low, high = mean_with_confidence_interval(differences, 1 - 2 * alpha)
    outcome = dict(mean=mean, low=low, high=high, p_value=None, verdict=None)
    if low is None:
        return outcome
    degrees_of_freedom = len(differences) - 1
    standard_error = float(differences.std(ddof=1)) / math.sqrt(len(differences))
    p_above_lower = float(stats.t.sf(_t_statistic(mean + margin, standard_error),
                                     degrees_of_freedom))
    p_below_upper = float(stats.t.cdf(_t_statistic(mean - margin, standard_error),
                                      degrees_of_freedom))
    if -margin < low and high < margin:
        verdict = "equivalent"
    elif low > margin or high < -margin:
        verdict = "not equivalent"
    else:
        verdict = "undecided"
    outcome.update(p_value=max(p_above_lower, p_below_upper), verdict=verdict)
    return outcome


def _t_statistic(distance, standard_error):
    """distance / standard_error, which for identical differences is infinite or zero."""
    if standard_error > 0:
        return distance / standard_error
    return math.copysign(math.inf, distance) if distance != 0 else 0.0
