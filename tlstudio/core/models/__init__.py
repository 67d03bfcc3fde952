"""The model layer: the architecture registry, fastai layer groups and splitters, pretrained weights
and the learner built from them. Imports only core's leaf types.
"""
