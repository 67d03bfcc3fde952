"""The delivery layer: what leaves a trained model: interpretation, model files and their metadata,
exports in every format, their verification and trust record, prediction. Imports models and dataset.
"""
