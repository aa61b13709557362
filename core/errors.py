"""Errors that the command line turns into one clear line and a non-zero exit."""


class InputError(Exception):
    """Bad input: the message names the file, row or field and what was expected."""
