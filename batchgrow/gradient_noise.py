"""The gradient noise scale B_simple = tr(Σ) / |G|², estimated from gradients at two batch sizes.

McCandlish, Kaplan, Amodei et al. 2018, "An Empirical Model of Large-Batch
Training" (arXiv:1812.06162), define the simple noise scale B_simple =
tr(Σ) / |G|², with G the true gradient and Σ the per-example gradient
covariance: batches much smaller than B_simple use their examples well, much
larger ones waste them. Their Appendix A estimates both from squared norms of
mean gradients at a small and a big batch size, with no per-example gradient.
This module is that estimator in plain numpy; training.py computes the
squared norms in a compiled TensorFlow function that reads the weights and
optimizer state and assigns nothing.

Population. A fixed random population of M = Settings.noise_population
training examples per seed (all of them if fewer), the same for every
schedule and epoch of the seed. G is its mean gradient and Σ its per-example
covariance with divisor M − 1 (so tr(Σ) is an unbiased estimate of the data
distribution's).

Sampling: without replacement, with the finite-population correction. An
epoch's draws are consecutive blocks of B_big examples of a random
permutation of the population (a new permutation when one runs out), and
each big batch's consecutive chunks of B_small examples are its small
batches. A mean gradient over B examples drawn without replacement from M has

    E |G_B|² = |G|² + tr(Σ) (1/B − 1/M) = |G|² + tr(Σ) (M/B − 1) / M,

the factor (N/B − 1) of the exact noise scale g = lr (N/B − 1) / (1 − m)
(Smith and Le 2017), which comes from the same thing: an epoch draws its
batches without replacement, so the noise is 0 at B = N. With replacement
the factor would be (1 − 1/M) / B, McCandlish et al.'s 1/B for a large
population; the two agree at B = 1 and differ by (M − 1) / (M − B) at the big
batch, 1.33 at the defaults' 1,024 of 4,096. Solving the two equations for
the small and the big batch gives unbiased estimates, linear in the squared
norms:

    tr(Σ) ≈ (|G_small|² − |G_big|²) / (1/B_small − 1/B_big)
    |G|²  ≈ |G_big|² − tr(Σ) (1/B_big − 1/M)

(as M grows the second becomes McCandlish et al.'s
(B_big |G_big|² − B_small |G_small|²) / (B_big − B_small)). Each is
averaged over the draws separately, and B_simple is the ratio of the means.
A ratio of unbiased estimates is not unbiased (E[X/Y] ≠ E[X]/E[Y]); its bias
is of the order of the relative variance of the |G|² estimate, large where
B_simple is far above B_big, and B_simple is NaN where the |G|² estimate is
not positive (the gradient not resolved above its noise).

Preconditioned form (Adam). With Adam's diagonal preconditioner
P_ii = 1 / (√v_i + ε), the same estimator applied to the norms gᵀPg gives
tr(PΣ) and GᵀPG, and B_simple_preconditioned = tr(PΣ) / (GᵀPG): the noise
scale of the preconditioned step Adam takes, with v as it stands at the end
of the epoch. P is the fused Adam op's own 1 / (√v + ε) on the raw v; the
learning rate and bias correction only scale it, and a scale cancels in the
ratio.

Randomness: numpy.random.default_rng([seed, POPULATION_TAG]) chooses the
population and default_rng([seed, epoch, DRAWS_TAG]) an epoch's draws, never
a global stream and never the example order's default_rng([seed, epoch]).
"""
import typing

import numpy as np

# The tags of the estimator's own random streams.
POPULATION_TAG = 0x4E5350  # "NSP"
DRAWS_TAG = 0x4E5344  # "NSD"


class Sizes(typing.NamedTuple):
    """The estimator's population size M and its batch sizes for one training set size."""
    population: int
    small: int
    big: int


def measurement_sizes(settings):
    """Sizes(M, B_small, B_big) of the settings' estimator, or None where the training set is under 2 examples.

    M is at most the training set; B_small at most M // 2; B_big at most M,
    rounded down to a multiple of B_small so that it splits into whole small
    batches. ValueError for settings with no two distinct batch sizes.
    """
    for name in ("noise_population", "noise_small_batch", "noise_big_batch", "noise_draws"):
        if getattr(settings, name) < 1:
            raise ValueError(f"{name} must be at least 1; got {getattr(settings, name)}")
    if settings.noise_big_batch < 2 * settings.noise_small_batch:
        raise ValueError(f"noise_big_batch ({settings.noise_big_batch}) must be at least twice "
                         f"noise_small_batch ({settings.noise_small_batch})")
    population = min(settings.noise_population, settings.train_size)
    if population < 2:
        return None
    small = min(settings.noise_small_batch, population // 2)
    big = min(settings.noise_big_batch, population) // small * small
    return Sizes(population, small, big)


def population(seed, train_size, size):
    """The sorted indices of the seed's population: size training examples of train_size, the same every epoch."""
    rng = np.random.default_rng([seed, POPULATION_TAG])
    return np.sort(rng.choice(train_size, size, replace=False)).astype(np.int32)


def draw_batches(seed, epoch, examples, big, draws):
    """[draws, big] training-set indices: consecutive blocks of random permutations of examples.

    Each block is a uniformly random subset of big examples, drawn without
    replacement, so each is an unbiased draw; blocks of one permutation are
    disjoint.
    """
    rng = np.random.default_rng([seed, epoch, DRAWS_TAG])
    blocks, order = [], np.empty(0, dtype=examples.dtype)
    while len(blocks) < draws:
        if len(order) < big:
            order = examples[rng.permutation(len(examples))]
        blocks.append(order[:big])
        order = order[big:]
    return np.stack(blocks).astype(np.int32)


def two_batch_estimates(small_squares, big_squares, sizes):
    """(|G|² estimates, tr(Σ) estimates), one per draw, each unbiased, from its squared norms.

    small_squares holds each draw's mean of |G_small|² over its small
    batches, big_squares its |G_big|²; both are mean gradients of batches
    drawn without replacement from the population (the module docstring
    gives the formulas).
    """
    small_squares = np.asarray(small_squares, dtype=np.float64)
    big_squares = np.asarray(big_squares, dtype=np.float64)
    trace = (small_squares - big_squares) / (1 / sizes.small - 1 / sizes.big)
    norm_squared = big_squares - trace * (1 / sizes.big - 1 / sizes.population)
    return norm_squared, trace


def noise_scale(small_squares, big_squares, sizes):
    """(|G|², tr(Σ), B_simple): each estimate averaged over the draws, then their ratio.

    B_simple is NaN where the mean |G|² estimate is not positive.
    """
    norm_squared, trace = two_batch_estimates(small_squares, big_squares, sizes)
    norm_squared, trace = float(np.mean(norm_squared)), float(np.mean(trace))
    return norm_squared, trace, (trace / norm_squared if norm_squared > 0 else float("nan"))
