"""Reusable widgets of the window: gallery, thumbnails, charts, dialogs."""
