"""TL Studio: transfer learning on images, built on fastai."""

__version__ = "0.1.0"
