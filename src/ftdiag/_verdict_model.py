"""Coefficients of the verdict model (generated: do not edit).

Written by benchmarks/fit_verdict_model.py from ../shared/corpus/labeled;
see ftdiag.diagnosis for how they are used.
"""

from __future__ import annotations

from typing import Any

MODELS: dict[str, dict[str, Any]] = {
    'with_hyperparameters': {
        'features': ['training_budget', 'lr_multiplier', 'loss_gap', 'projected_gain', 'projection_sure', 'improvement', 'drop_since_best', 'share_lost'],
        'labels': ['underfit', 'good_fit', 'overfit'],
        'mean': [1.108699, -0.460724, 0.691649, 0.953809, 0.185484, 1.947524, 1.66636, 0.272297],
        'scale': [0.953512, 0.796268, 1.071016, 2.324782, 0.38869, 1.028509, 2.336243, 0.4797],
        'coef': [[-0.246899, -0.674091, -2.166757, 0.451053, 0.064086, 0.098779, -0.137843, -0.146028], [-0.390897, -0.563976, 1.459024, 0.281789, -0.200824, 0.179004, -0.123297, -0.148401], [0.637796, 1.238066, 0.707732, -0.732841, 0.136738, -0.277783, 0.261139, 0.294429]],
        'intercept': [-0.29265, 1.06571, -0.773059],
        'temperature': 0.8753,
        'thin': 3.0,
    },
    'three_points': {
        'features': ['training_budget', 'lr_multiplier', 'loss_gap'],
        'labels': ['underfit', 'good_fit', 'overfit'],
        'mean': [0.81857, -0.489347, 0.139001],
        'scale': [0.897071, 0.761113, 0.321272],
        'coef': [[0.106894, -0.57157, -0.586428], [-0.432826, -0.723837, 0.195126], [0.325932, 1.295407, 0.391302]],
        'intercept': [0.449696, 0.394891, -0.844587],
        'temperature': 1.1526,
        'thin': 0.0,
    },
    'few_points': {
        'features': ['training_budget', 'lr_multiplier', 'loss_gap'],
        'labels': ['underfit', 'good_fit', 'overfit'],
        'mean': [0.583699, -0.517565, -0.230623],
        'scale': [0.910863, 0.769094, 0.35916],
        'coef': [[0.284265, -0.275707, -0.170368], [-0.911078, -0.222919, -0.037688], [0.626814, 0.498625, 0.208057]],
        'intercept': [0.417739, 0.28164, -0.699379],
        'temperature': 1.952,
        'thin': 0.0,
        'confidence': 0.5606,
    },
    'curves_only': {
        'features': ['loss_gap', 'projected_gain', 'projection_sure', 'improvement', 'drop_since_best', 'share_lost', 'best_position'],
        'labels': ['underfit', 'good_fit', 'overfit'],
        'mean': [0.691649, 0.953809, 0.185484, 1.947524, 1.66636, 0.272297, 0.711242],
        'scale': [1.071016, 2.324782, 0.38869, 1.028509, 2.336243, 0.4797, 0.284871],
        'coef': [[-2.298007, 0.33141, 0.20082, 0.010362, 0.042563, -0.151949, 0.159514], [1.436958, 0.242365, -0.055829, 0.064243, 0.089891, -0.087478, 0.025228], [0.861048, -0.573775, -0.144991, -0.074606, -0.132454, 0.239426, -0.184742]],
        'intercept': [-0.869168, 0.579204, 0.289964],
        'temperature': 0.9323,
        'thin': 3.0,
    },
}
