"""The training layer: the two-stage run, its callbacks, the feature cache for the fast head, the LR
finder, devices and torchrun, model advice and speed. Imports models and dataset.
"""
