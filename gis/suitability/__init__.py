"""Resettlement-site suitability: criteria surfaces, transforms, weights (AHP), combination,
parcel scoring and site selection, region growing, sensitivity.

Modelled on ArcGIS Pro's Suitability Modeler (transform, weight, combine, locate).
"""

from gis.suitability.transforms import TRANSFORMS, Transform, apply_transform
from gis.suitability.weights import AHPResult, ahp_weights, normalize_weights

__all__ = ["TRANSFORMS", "Transform", "apply_transform", "AHPResult", "ahp_weights", "normalize_weights"]
