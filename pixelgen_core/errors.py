"""Errors meant for the user: the CLI prints their message on one line, without a traceback."""


class PixelgenError(Exception):
    """A problem the user can fix (bad input, missing file, unknown strategy)."""

    exit_code = 1


class ConfigError(PixelgenError):
    """A bad configuration key or value; exits with 2 like other usage errors."""

    exit_code = 2


class PluginError(PixelgenError):
    """A plugin could not be loaded, or two plugins clash."""
