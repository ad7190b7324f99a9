"""Restore a strategy from a checkpoint, and draw palette-snapped sprites from it."""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pixelgen_core.checkpoint import Checkpoint, as_checkpoint
from pixelgen_core.config import check_choices, check_limits, nested, resolve, typed, value_checks
from pixelgen_core.errors import (
    ConfigError,
    PixelgenError,
    PixelgenWarning,
    SettingError,
    first_line,
)
from pixelgen_core.palette import Palette, unblend
from pixelgen_core.plugins import StrategyRecord, registry
from pixelgen_core.prompts import Prompt
from pixelgen_core.request import Draw, DrawRequest, Options
from pixelgen_core.request_filter import erases_floating
from pixelgen_core.runs import written_by_trainer
from pixelgen_core.specks import erase_floating
from pixelgen_core.strategy import DataInfo, Option, Strategy, StrategySpec

if TYPE_CHECKING:
    from pixelgen_core.pixel_filter import PixelFilter


def choose_device(preference: str = "auto") -> torch.device:
    """CUDA, then MPS, then CPU; an explicit name (cpu, cuda, cuda:1, mps) overrides."""
    if preference != "auto":
        try:
            device = torch.device(preference)
        except RuntimeError:
            raise PixelgenError(f"unknown device {preference!r}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise PixelgenError("device 'cuda' asked for, but CUDA is not available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise PixelgenError("device 'mps' asked for, but MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def build(record: StrategyRecord, config: dict, info: DataInfo, device: torch.device) -> Strategy:
    """The strategy built from a resolved plain config (typed here, if the spec is).

    A ConfigError the strategy raises is a user error; any other exception is a bug."""
    try:
        cls = record.spec.load_class()
    except Exception as exc:
        raise PixelgenError(
            f"strategy {record.spec.name!r} ({record.distribution}) failed to load: {exc}"
        ) from None
    strategy = cls(typed(record.spec, config), info, device)
    strategy.spec = record.spec
    return strategy


def sample_options(spec: StrategySpec, config: Any, given: dict[str, Any]) -> dict[str, Any]:
    """Every sample option's value: the one given, else its config key's value, else its
    default. Given values are checked against the key's type, choices and range."""
    by_name = {o.name: o for o in spec.sample_options}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        names = ", ".join(by_name) or "none"
        raise ConfigError(f"{spec.name} has no sample option {unknown[0]!r} (options: {names})")
    ranges, choices = value_checks(spec)
    out = {}
    for option in spec.sample_options:
        value = given.get(option.name)
        if value is not None:
            _check_option(option, value, ranges, choices)
        elif option.config_key:
            value = _lookup(config, option.config_key)
        else:
            value = option.default
        out[option.name] = value
    return out


def options_for(strategy: Strategy, given: dict[str, Any]) -> dict[str, Any]:
    """The keywords `strategy.sample` gets: for a strategy core built (its spec known),
    every sample option filled in and checked; otherwise `given` as it is."""
    if strategy.spec is None:
        return dict(given)
    return sample_options(strategy.spec, strategy.config, given)


def _check_option(option: Option, value: Any, ranges: dict, choices: dict) -> None:
    kind = option.type
    if isinstance(kind, tuple):
        ok = value in kind
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        wanted = ", ".join(kind) if isinstance(kind, tuple) else kind.__name__
        raise SettingError(f"{{{option.name}}} must be {wanted}, got {value!r}")
    key = option.config_key
    if key is None:
        return
    try:
        check_choices(nested({key: value}), {key: choices[key]} if key in choices else {})
        check_limits(nested({key: value}), {key: ranges[key]} if key in ranges else {})
    except ConfigError as exc:
        named = str(exc).replace(f"config key {key!r}", "{" + option.name + "}")
        raise SettingError(named) from None


def _lookup(config: Any, key: str) -> Any:
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def restore(
    record: StrategyRecord, saved: Checkpoint | dict, device: torch.device
) -> tuple[Strategy, Palette]:
    """A strategy with a checkpoint's weights, ready to sample, and the palette it used.

    `saved` comes from `checkpoint.open_run(path, record.spec.name)` (or is the payload
    `checkpoint.load` returns)."""
    saved = as_checkpoint(saved)
    info = DataInfo.from_dict(saved.data)
    # Settings the plugin gained since the run was saved take their current defaults.
    config = resolve(record.spec, base=saved.config)
    if not written_by_trainer(saved.path):
        _check_fit(record, config, info, saved)
    strategy = build(record, config, info, device)
    _load(strategy, saved)
    return strategy, Palette.from_tuples(info.palette)


def _load(strategy: Strategy, saved: Checkpoint) -> None:
    try:
        strategy.load_state_dict(saved.state, with_optimizers=False)
    except Exception as exc:
        raise PixelgenError(f"checkpoint {saved.path} does not fit: {first_line(exc)}") from None


def _check_fit(record: StrategyRecord, config: dict, info: DataInfo, saved: Checkpoint) -> None:
    """Build the model on torch's meta device (shapes only, no memory) and load the weights
    into it: a checkpoint whose config disagrees with its weights (hand-edited, or absurd
    sizes) is refused before a real model of that size is allocated."""
    try:
        # As the default device too: strategies make their modules, then move them, and
        # only a module made on meta never allocates (or initialises) its weights.
        with torch.device("meta"):
            shapes_only = build(record, config, info, torch.device("meta"))
    except Exception:  # config errors included: the real build reports them
        return  # a strategy that cannot be built on meta is checked by the real load
    with warnings.catch_warnings():  # "copying into a meta parameter is a no-op": intended
        warnings.simplefilter("ignore", UserWarning)
        _load(shapes_only, saved)


def draw_request(
    strategy: Strategy, palette: Palette, request: DrawRequest, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray | None]:
    """What `request` asks of the strategy: sprites as palette indices (n, H, W), and the
    raw RGBA (n, H, W, 4) in [0, 1] it produced before snapping (None when it returns
    indices directly). The one path to `Strategy.sample` and `Strategy.edit`.

    Drawn in chunks of `chunk` from one generator: the same seed gives the same sprites.
    With `request.separate`, sprite i is drawn alone from seed + i instead, so each can
    be drawn again by itself (`-n 1 --seed SEED+i`)."""
    if request.is_edit and not has_capability(strategy, "edit"):
        raise registry().lacks(_name(strategy), "edit", "edit sprites")
    options = options_for(strategy, dict(request.options))
    how = capabilities_for(strategy, request.tileable, request.prompt)
    if request.is_edit:
        rgba = torch.from_numpy(palette.to_rgba(request.image)).permute(2, 0, 1).float() / 255
        rgba, mask = rgba.to(strategy.device), torch.from_numpy(request.keep).to(strategy.device)
        how["strength"] = float(request.strength)

    def draw_chunk(count: int, generator: torch.Generator) -> torch.Tensor:
        if request.is_edit:
            how["images"] = rgba.expand(count, *rgba.shape).contiguous()
            how["keep"] = mask.expand(count, *mask.shape).contiguous()
        chunk_draw = Draw(count, generator, Options(options), request.label, **how)
        return call_strategy(strategy, chunk_draw)

    def draw_pool(count: int, pool_seed: int) -> np.ndarray:
        return _draw(strategy, palette, count, pool_seed, draw_chunk, chunk, False)[0]

    keep = pixel_filter_for(strategy, request, draw_pool)
    n, seed, separate = request.n, request.seed, request.separate
    if keep is not None:
        drawn = _draw_filtered(strategy, palette, n, seed, draw_chunk, chunk, separate, keep)
    else:
        drawn = _draw(strategy, palette, n, seed, draw_chunk, chunk, separate)
    if request.filtered and not request.is_edit and erases_floating(strategy, request.prompt):
        # the raw output stays as the model drew it
        return erase_floating(drawn[0], request.tileable), drawn[1]
    return drawn


def pixel_filter_for(
    strategy: Strategy,
    request: DrawRequest,
    draw_pool: Callable[[int, int], np.ndarray] | None = None,
) -> PixelFilter | None:
    """The pixel filter a draw goes through, where the run kept one: a draw with no
    edit, with the run's default sample options (the draws it was fitted on). A class's
    sprites share the run's mistakes (a second colour, a speck), which the run's filter
    weighs whatever the class: on the full default, class draws through it lost every
    second colour and came closer to their class's real sprites on each pixel statistic
    and FD (RESULTS, 2026-12-06). Prompted and tileable draws came out worse through it
    (RESULTS, 2026-12-06), so they get a filter of their own (`request_filter`), fitted
    on `draw_pool(count, seed)`, such draws as palette indices. None where the run has
    none or the request opts out."""
    from pixelgen_core.pixel_filter import PixelFilter
    from pixelgen_core.request_filter import request_filter

    state = (strategy.chosen_sampling or {}).get("filter")
    if state is None or not request.filtered or request.is_edit:
        return None
    options = options_for(strategy, dict(request.options))
    if options != options_for(strategy, {}):
        return None
    if request.prompt is None and not request.tileable:
        return PixelFilter.from_dict(state)
    if draw_pool is None:
        return None
    how = (request.prompt, request.tileable, request.label)
    return request_filter(strategy, *how, options, draw_pool)


FILTER_DRAWS = 8  # a filtered draw gives up after n / acceptance x this many sprites


def _draw_filtered(strategy, palette, n, seed, draw_chunk, chunk, separate, keep: PixelFilter):
    """`_draw` through the pixel filter: each sprite kept with `keep`'s probability. With
    `separate`, sprite i is the first kept one drawn from seed + i, so it too can be
    drawn again by itself."""
    strategy.eval()
    with torch.inference_mode():
        if not separate:
            return _keep_drawing(palette, n, seed, draw_chunk, chunk, keep, strategy.device)
        _check_separate_seeds(seed, n)
        parts = [
            _keep_drawing(palette, 1, seed + i, draw_chunk, chunk, keep, strategy.device)
            for i in range(n)
        ]
    return _take(parts, slice(None))


def _keep_drawing(palette, n, seed, draw_chunk, chunk, keep: PixelFilter, device):
    """Draw from one generator, keeping sprites by `keep`'s odds, until `n` are kept. Same
    seed, same sprites. Should too few pass (a model unlike the pool the filter was
    fitted on), the likeliest of the dropped fill the rest."""
    generator = torch.Generator(device=device).manual_seed(seed)
    chance = np.random.default_rng(seed)
    kept: list[tuple[np.ndarray, np.ndarray | None]] = []
    dropped: list[tuple[np.ndarray, np.ndarray | None]] = []
    dropped_odds: list[np.ndarray] = []
    found, drawn = 0, 0
    budget = math.ceil(FILTER_DRAWS * n / keep.acceptance)
    while found < n and drawn < budget:
        count = min(chunk, math.ceil(1.2 * (n - found) / keep.acceptance))
        index, raw = snap_output(draw_chunk(count, generator), palette)
        drawn += count
        odds = keep.keep_probability(index)
        ok = chance.random(count) < odds
        kept.append((index[ok], None if raw is None else raw[ok]))
        dropped.append((index[~ok], None if raw is None else raw[~ok]))
        dropped_odds.append(odds[~ok])
        found += int(ok.sum())
    if found < n:
        likeliest = np.argsort(-np.concatenate(dropped_odds), kind="stable")[: n - found]
        kept.append(_take(dropped, likeliest))
    index, raw = _take(kept, slice(None))
    return index[:n], None if raw is None else raw[:n]


def _take(parts: list, rows) -> tuple[np.ndarray, np.ndarray | None]:
    """Concatenated (indices, raw) chunks, rows `rows` of them."""
    index = np.concatenate([p[0] for p in parts])[rows]
    raws = [p[1] for p in parts]
    return index, None if raws[0] is None else np.concatenate(raws)[rows]


def call_strategy(strategy: Strategy, draw: Draw) -> torch.Tensor:
    """`strategy.sample(draw)` or `strategy.edit(draw)`. A strategy written before the
    `Draw` contract (``sample(n, generator, label, **options)``) is still called its way,
    with one warning."""
    method = strategy.edit if draw.is_edit else strategy.sample
    if takes_draw(method):
        return method(draw)
    _warn_legacy(type(strategy))
    extra = {"tileable": draw.tileable} if has_capability(strategy, "tileable") else {}
    if draw.tags is not None:
        extra.update(tags=draw.tags, negative=draw.negative)
    options = {**draw.options, **extra}
    if draw.is_edit:
        return method(draw.images, draw.keep, draw.strength, draw.generator, draw.label, **options)
    return method(draw.n, draw.generator, draw.label, **options)


def takes_draw(method: Any) -> bool:
    """Whether a `sample` or `edit` method takes one `Draw` (its first parameter is `draw`)."""
    params = list(inspect.signature(method).parameters)
    return bool(params) and params[0] == "draw"


_warned: set[type] = set()


def _warn_legacy(cls: type) -> None:
    if cls not in _warned:
        _warned.add(cls)
        warnings.warn(
            f"{cls.__name__}.sample/edit take (n, generator, label, **options); since "
            "contract 2 they take one Draw: `def sample(self, draw)` (see docs/plugins.md)",
            PixelgenWarning,
            stacklevel=3,
        )


def sample_raw(
    strategy: Strategy,
    palette: Palette,
    n: int,
    seed: int,
    label: int | None = None,
    options: dict[str, Any] | None = None,
    chunk: int = 256,
    **how: Any,
) -> tuple[np.ndarray, np.ndarray | None]:
    """`draw_request` for a sample of `n` sprites; `how`: tileable, separate, prompt."""
    request = DrawRequest(n, seed, label, options=options or {}, **how)
    return draw_request(strategy, palette, request, chunk)


def edit_raw(
    strategy: Strategy,
    palette: Palette,
    indices: np.ndarray,
    keep: np.ndarray,
    strength: float,
    n: int,
    seed: int,
    label: int | None = None,
    options: dict[str, Any] | None = None,
    chunk: int = 256,
    **how: Any,
) -> tuple[np.ndarray, np.ndarray | None]:
    """`draw_request` for `n` edits of one sprite (palette `indices` (H, W)): the pixels
    where `keep` is True should come back exactly, the others are redrawn with
    `strength` (see `Strategy.edit`); `how`: tileable, separate, prompt."""
    request = DrawRequest(
        n, seed, label, options=options or {}, image=indices, keep=keep, strength=strength, **how
    )
    return draw_request(strategy, palette, request, chunk)


MAX_SEED = 2**63 - 1  # what the commands' --seed takes


def has_capability(strategy: Strategy, capability: str) -> bool:
    return strategy.spec is not None and capability in strategy.spec.capabilities


def capabilities_for(strategy: Strategy, tileable: bool, prompt: Prompt | None) -> dict:
    """The `Draw` fields a capability gives: ``tileable`` for a strategy that declares it,
    a prompt's ``tags`` and ``negative`` vectors; asking one that cannot is an error."""
    how: dict[str, Any] = {}
    if has_capability(strategy, "tileable"):
        how["tileable"] = bool(tileable)
    elif tileable:
        raise registry().lacks(_name(strategy), "tileable", "make tileable sprites")
    if prompt is None:
        return how
    if not has_capability(strategy, "tags"):
        raise registry().lacks(_name(strategy), "tags", "draw from a prompt")
    how["tags"], how["negative"] = (
        torch.from_numpy(v).to(strategy.device) for v in prompt.vectors(strategy.data.tags)
    )
    return how


def _name(strategy: Strategy) -> str:
    return strategy.spec.name if strategy.spec is not None else type(strategy).__name__


def _draw(strategy, palette, n, seed, draw_chunk, chunk, separate):
    """Run `draw_chunk(count, generator)` over `n` sprites (one generator in chunks, or
    one per sprite with `separate`) and snap what it returns."""
    strategy.eval()
    indices, raws = [], []
    device = strategy.device
    with torch.inference_mode():
        if separate:
            _check_separate_seeds(seed, n)
            parts = [(1, torch.Generator(device=device).manual_seed(seed + i)) for i in range(n)]
        else:
            generator = torch.Generator(device=device).manual_seed(seed)
            parts = [(min(chunk, n - start), generator) for start in range(0, n, chunk)]
        for count, generator in parts:
            index, raw = snap_output(draw_chunk(count, generator), palette)
            indices.append(index)
            if raw is not None:
                raws.append(raw)
    return np.concatenate(indices), (np.concatenate(raws) if raws else None)


def _check_separate_seeds(seed: int, n: int) -> None:
    if seed + n - 1 > MAX_SEED:
        raise SettingError(
            f"drawing each sprite from its own seed needs seeds up to {seed + n - 1}; "
            f"the largest is {MAX_SEED}: ask for a smaller {{seed}}",
            exit_code=1,
        )


def snap_output(out: torch.Tensor, palette: Palette) -> tuple[np.ndarray, np.ndarray | None]:
    """A strategy's output (indices or RGBA) as palette indices, plus the raw RGBA if any.
    RGBA is snapped unblended (`palette.unblend`): a half-sure pixel keeps its colour."""
    if not out.dtype.is_floating_point and out.dim() == 3:
        return out.clamp(0, palette.size - 1).cpu().numpy(), None
    if out.dim() == 4 and out.shape[1] == 4:
        raw = out.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        return palette.snap(unblend(raw)), raw
    raise PixelgenError(f"strategy returned samples of shape {tuple(out.shape)}")


def reconstruct(strategy: Strategy, palette: Palette, images: torch.Tensor) -> np.ndarray:
    """Palette indices (n, H, W) of the strategy's reconstructions of `images`."""
    if type(strategy).reconstruct is Strategy.reconstruct:
        raise PixelgenError("this strategy has no encoder, so it cannot reconstruct sprites")
    strategy.eval()
    with torch.inference_mode():
        out = strategy.reconstruct(images.to(strategy.device))
    return snap_output(out, palette)[0]


def draw(
    strategy: Strategy,
    palette: Palette,
    n: int,
    seed: int,
    label: int | None = None,
    options: dict[str, Any] | None = None,
    **how: Any,
) -> np.ndarray:
    """`n` sprites as RGBA uint8 (n, H, W, 4), snapped to the palette; same seed, same
    sprites. `how`: `tileable`, `separate`, as for `sample_raw`."""
    indices, _ = sample_raw(strategy, palette, n, seed, label, options, **how)
    return palette.to_rgba(indices)
