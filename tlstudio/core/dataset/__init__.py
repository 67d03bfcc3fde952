"""The dataset layer: what a dataset is (spec), how it is found (scan, layouts, folders, zip cache,
image checks), loaded (fastai DataLoaders), previewed and edited. Imports only core's leaf types and models.
"""
