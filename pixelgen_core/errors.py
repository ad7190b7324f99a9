"""Errors meant for the user: the CLI prints their message on one line, without a traceback."""

import re
from collections.abc import Callable

SETTING = re.compile(r"\{([A-Za-z_][\w.]*)\}")  # "{steps}" in a SettingError's message


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


class NoRun(PixelgenError):
    """No finished run with a checkpoint to open: train one first."""


class PluginError(PixelgenError):
    """A plugin could not be loaded, or two plugins clash."""


class NamesSettings:
    """An error whose message names settings as ``{name}``: the API shows the name as
    Python callers write it (``{steps}`` reads "steps", ``{training.stage}`` reads
    "training.stage"), and the CLI shows the flag that sets it ("--steps", "--stage").
    `settings` lists the names, the first being the one the error is about."""

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        self.template = message
        self.settings = tuple(SETTING.findall(message))
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__(self.words(lambda name: name))

    @property
    def setting(self) -> str:
        return self.settings[0] if self.settings else ""

    def words(self, name_of: Callable[[str], str]) -> str:
        """The message with each setting named by `name_of(name)`."""
        return SETTING.sub(lambda m: name_of(m.group(1)), self.template)


class SettingError(NamesSettings, ConfigError):
    """A value a setting cannot take, checked once, where the API checks it (exit code
    2, as for every ConfigError, unless given another)."""


class NotReady(NamesSettings, PixelgenError):
    """A strategy cannot sample yet: a training stage it needs has not run.

    Raise it from `Strategy.sample`; `pixelgen sample` shows the message, and the
    Trainer skips its sample grid instead of stopping (e.g. a VQ-VAE before its prior).
    Name the settings that would train it as ``{name}``, as for `SettingError`.
    """
