"""`pixelgen new-strategy NAME`: write a complete plugin distribution from the templates.

The templates under `templates/strategy/` are `string.Template` files; each path part
named `package` becomes the plugin's package.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from pixelgen_core import __version__
from pixelgen_core.errors import PixelgenError
from pixelgen_core.strategy import NAME_PATTERN


def names(name: str) -> dict[str, str]:
    """Template values for a strategy called `name`."""
    if not NAME_PATTERN.match(name):
        raise PixelgenError(
            f"strategy name {name!r} must be lower case letters, digits and dashes, "
            "starting with a letter"
        )
    major = int(__version__.split(".")[0])
    camel = "".join(part.title() for part in name.split("-"))
    return {
        "name": name,
        "dist": f"pixelgen-{name}",
        "package": "pixelgen_" + name.replace("-", "_"),
        "class_name": camel + "Strategy",
        "config_name": camel + "Config",
        "core_version": ".".join(__version__.split(".")[:2]),
        "core_next": f"{major + 1}",
    }


def _templates(root: Traversable, prefix: tuple[str, ...] = ()):
    for item in root.iterdir():
        if item.is_dir():
            yield from _templates(item, (*prefix, item.name))
        elif item.name.endswith(".tmpl"):
            yield (*prefix, item.name.removesuffix(".tmpl")), item


def write_plugin(name: str, target: Path | None = None) -> Path:
    """Write the plugin for `name` into `target` (default ./pixelgen-NAME); return it."""
    values = names(name)
    target = Path(target) if target is not None else Path(values["dist"])
    if target.exists() and any(target.iterdir()):
        raise PixelgenError(f"{target} already exists and is not empty")
    root = files("pixelgen_core").joinpath("templates", "strategy")
    for parts, template in sorted(_templates(root)):
        parts = tuple(values["package"] if p == "package" else p for p in parts)
        path = target.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template.read_text()).substitute(values))
    return target
