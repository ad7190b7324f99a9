"""A plugin whose import fails."""

import pixelgen_does_not_exist  # noqa: F401
