"""The statistics of a verdict: Student t intervals and the TOST equivalence test.

Two schedules are called equivalent when the paired differences of their
final test accuracies lie within the margin study.EQUIVALENCE_MARGIN_PP,
shown by two one-sided t-tests at study.EQUIVALENCE_ALPHA each (TOST):
equivalence_test() turns a list of paired differences into the verdict that
every summary table gives. scipy gives the exact t quantiles for any n.
"""
import math

import numpy as np
from scipy import integrate, optimize, stats

from batchgrow.study import EQUIVALENCE_ALPHA, EQUIVALENCE_MARGIN_PP


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


# ---------------------------------------------------------------------------
# Power: what the test can find at a given number of seeds
# ---------------------------------------------------------------------------
# The power of the TOST verdicts, for paired differences that are normal with
# mean `difference` and standard deviation `spread` (of one seed's paired
# difference, not of one cell's accuracies), n seeds, margin and alpha.

def probability_not_equivalent(difference, spread, seeds, margin=EQUIVALENCE_MARGIN_PP, alpha=EQUIVALENCE_ALPHA):
    """The probability of the verdict "not equivalent": the (1 - 2 alpha) interval wholly outside ±margin.

    low > margin is T = (mean - margin) / (s / sqrt(n)) > t_{1 - alpha}, with T
    noncentral t (n - 1 degrees of freedom, noncentrality (difference -
    margin) sqrt(n) / spread); high < -margin likewise. The two cannot both hold.
    """
    degrees_of_freedom = seeds - 1
    critical = float(stats.t.ppf(1 - alpha, degrees_of_freedom))
    root_n = math.sqrt(seeds) / spread
    # "high < -margin" is "-T > t" for the mirrored difference. scipy's
    # noncentral t returns NaN far out in its tails, where the probability is
    # 0 or 1 to double precision; a noncentrality of 40 is already there.
    above = stats.nct.sf(critical, degrees_of_freedom, np.clip((difference - margin) * root_n, -40, 40))
    below = stats.nct.sf(critical, degrees_of_freedom, np.clip(-(difference + margin) * root_n, -40, 40))
    return float(above + below)


def smallest_detectable_difference(spread, seeds, power=0.8, margin=EQUIVALENCE_MARGIN_PP,
                                   alpha=EQUIVALENCE_ALPHA):
    """The smallest true |difference| that is called "not equivalent" with the given probability."""
    return float(optimize.brentq(
        lambda difference: probability_not_equivalent(difference, spread, seeds, margin, alpha) - power,
        margin, margin + 50 * spread + 1.0))


def probability_equivalent(difference, spread, seeds, margin=EQUIVALENCE_MARGIN_PP, alpha=EQUIVALENCE_ALPHA):
    """The probability of the verdict "equivalent": the (1 - 2 alpha) interval inside (-margin, margin).

    Given the sample standard deviation s, the interval's half-width is
    h = t_{1 - alpha} s / sqrt(n), and it fits when |mean| < margin - h, with
    the mean normal around the difference. (n - 1) s^2 / spread^2 is
    chi-squared, so the probability is one integral over it.
    """
    degrees_of_freedom = seeds - 1
    critical = float(stats.t.ppf(1 - alpha, degrees_of_freedom))
    standard_error = spread / math.sqrt(seeds)

    def fits(chi_square):
        room = margin - critical * standard_error * math.sqrt(chi_square / degrees_of_freedom)
        if room <= 0:
            return 0.0
        inside = (stats.norm.cdf((room - difference) / standard_error)
                  - stats.norm.cdf((-room - difference) / standard_error))
        return float(inside * stats.chi2.pdf(chi_square, degrees_of_freedom))

    widest = degrees_of_freedom * (margin / (critical * standard_error)) ** 2
    return float(integrate.quad(fits, 0.0, widest, limit=200)[0])
