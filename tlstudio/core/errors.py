"""Errors the user can act on. The CLI prints them as one line; the window shows them."""


class UserFacingError(Exception):
    """A problem with the user's input or machine, stated in one clear sentence."""
