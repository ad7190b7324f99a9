"""A plugin implementing a hook that does not exist (a typo)."""

from pixelgen_core import hookimpl


@hookimpl
def register_strategys(register):
    pass
