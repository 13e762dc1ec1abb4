"""Coefficients of the verdict model (generated: do not edit).

Written by benchmarks/fit_verdict_model.py from ../shared/corpus/labeled;
see ftdiag.diagnosis for how they are used.
"""

from __future__ import annotations

from typing import Any

MODELS: dict[str, dict[str, Any]] = {
    'with_hyperparameters': {
        'features': ['training_budget', 'lr_multiplier', 'loss_gap', 'projected_gain', 'projection_sure', 'improvement', 'drop_since_best'],
        'labels': ['underfit', 'good_fit', 'overfit'],
        'mean': [1.108699, -0.460724, 0.691649, 0.953809, 0.185484, 1.947524, 1.66636],
        'scale': [0.953512, 0.796268, 1.071016, 2.324782, 0.38869, 1.028509, 2.336243],
        'coef': [[-0.273278, -0.640029, -2.158693, 0.481665, 0.064424, 0.124852, -0.20182], [-0.418759, -0.521798, 1.463031, 0.316919, -0.197163, 0.198113, -0.180307], [0.692037, 1.161827, 0.695662, -0.798584, 0.132739, -0.322965, 0.382126]],
        'intercept': [-0.300076, 1.061066, -0.76099],
        'temperature': 1.0203,
        'thin': 1.3445,
    },
    'curves_only': {
        'features': ['loss_gap', 'projected_gain', 'projection_sure', 'improvement', 'drop_since_best', 'best_position'],
        'labels': ['underfit', 'good_fit', 'overfit'],
        'mean': [0.691649, 0.953809, 0.185484, 1.947524, 1.66636, 0.711242],
        'scale': [1.071016, 2.324782, 0.38869, 1.028509, 2.336243, 0.284871],
        'coef': [[-2.322147, 0.350635, 0.202358, 0.042633, 0.002385, 0.175066], [1.449754, 0.266909, -0.054416, 0.079961, 0.057746, 0.029694], [0.872394, -0.617544, -0.147942, -0.122593, -0.060131, -0.20476]],
        'intercept': [-0.877632, 0.580679, 0.296953],
        'temperature': 0.9068,
        'thin': 3.0,
    },
}
