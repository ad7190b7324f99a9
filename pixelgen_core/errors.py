"""Errors meant for the user: the CLI prints their message on one line, without a traceback."""


class PixelgenError(Exception):
    """A problem the user can fix (bad input, missing file, unknown strategy)."""

    exit_code = 1


def first_line(exc: BaseException) -> str:
    """An exception's message cut to one line, for errors shown to the user."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PixelgenWarning(UserWarning):
    """Something the user should know that does not stop the command (the CLI prints it
    as one "Warning:" line)."""


class ConfigError(PixelgenError):
    """A bad configuration key or value; exits with 2 like other usage errors."""

    exit_code = 2


class NotReady(PixelgenError):
    """A strategy cannot sample yet: a training stage it needs has not run.

    Raise it from `Strategy.sample`; `pixelgen sample` shows the message, and the
    Trainer skips its sample grid instead of stopping (e.g. a VQ-VAE before its prior).
    """


class NoRun(PixelgenError):
    """No finished run with a checkpoint to open: train one first."""


class PluginError(PixelgenError):
    """A plugin could not be loaded, or two plugins clash."""
