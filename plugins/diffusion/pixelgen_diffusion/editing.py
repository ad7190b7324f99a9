"""Editing a diffusion run's sprites: inpainting and variations with RePaint, on the base
model's DDIM steps. The strategy's `edit` and `_repaint` call these."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from pixelgen_core import Draw, Palette, SettingError, autocast
from pixelgen_core.evaluation import opaque_colours
from pixelgen_diffusion.detail import detail_levels

if TYPE_CHECKING:
    from pixelgen_diffusion.strategy import DiffusionStrategy


def edit(strategy: DiffusionStrategy, draw: Draw) -> torch.Tensor:
    """Inpainting and variations with the base model's DDIM sampler, as in RePaint
    (Lugmayr et al. 2022): after every step the kept pixels are replaced by the input
    noised to that step's level (so they come back exactly at the end), and each step
    is taken `resample` times, diffusing back between them (q(x_t | x_prev)), so the
    redrawn pixels can agree with the kept ones at the mask's border. `strength`
    starts the trajectory part way, at the input noised to the level of the last
    round(strength * steps) timesteps (image-to-image, as in SDEdit). Whatever the
    sampler option, the steps are DDIM's (`steps`, `eta`, `timestep_spacing`). On a
    run with detail levels each edit asks for its input's level and is held to it and
    to the input's colours (`_held`), so a solid sprite's variations do not come back
    speckled."""
    o, images, keep, generator = draw.options, draw.images, draw.keep, draw.generator
    sampler, steps, ddim_steps = o.sampler, o.steps, o.ddim_steps
    ema, precision, strength, mend = o.ema, o.precision, draw.strength, o.mend
    if ddim_steps is not None:
        sampler, steps = "ddim", ddim_steps
    if sampler == "consistency":  # dpm++ and ddpm runs edit with DDIM's steps too
        raise SettingError(
            "edit draws with the base model's DDIM sampler (RePaint); the consistency "
            "sampler cannot edit: leave {sampler} at auto"
        )
    steered = o.final_step_t != strategy.config.sampling.final_step_t
    steered |= o.mid_t not in (None, strategy.config.consistency.mid_t)
    if steered:  # not dropped in silence: an edit has no consistency step to steer
        raise SettingError(
            "{final_step_t} and {mid_t} steer the consistency sampler's steps; edit "
            "draws with the base model's DDIM steps (RePaint) and has none"
        )
    if o.restarts != strategy.config.sampling.restarts:
        raise SettingError(
            "an edit redraws with RePaint's own rounds ({resample}); {restarts} are for sample"
        )
    runner = strategy.make_sampler(
        "ddim", steps or strategy._default_steps("ddim"), o.eta, o.timestep_spacing
    )
    strategy._check_colours(o.colours, on_head=True)
    timesteps = runner.timesteps.tolist()
    timesteps = timesteps[len(timesteps) - round(len(timesteps) * strength) :]
    if not timesteps:
        return images.clone()
    net = strategy._sampling_net("base", ema, precision)
    labels = strategy._labels(len(images), draw.label, generator, draw.tags)
    held = strategy.levels > 1
    if held:  # an edit asks for the input's detail level, and is held to it below
        given = strategy._snapped(images, Palette.from_tuples(strategy.data.palette))
        labels = strategy._with_levels(labels, detail_levels(given))
        colours = torch.from_numpy(opaque_colours(given.numpy()))
    guidance = strategy._guidance(draw)
    known = images.to(strategy.device).float() * 2 - 1
    kept = keep.to(strategy.device)[:, None].expand_as(known)

    def redraw(rows: torch.Tensor) -> torch.Tensor:
        """RePaint on the sprites `rows`."""
        predict = strategy._predictor(
            net, labels[rows], guidance, draw.tileable, generator, draw.negative
        )
        edited = strategy._repaint(runner, timesteps, predict, known[rows], kept[rows], draw)
        if not draw.options.clean:
            return edited
        return strategy._cleaned(edited, draw.tileable, kept[rows])

    edited = redraw(torch.arange(len(images), device=strategy.device))
    # Held as `sample` holds a drawn sprite: a solid sprite's variations stay solid, a
    # dithered one's dithered; and to no more colours than the input has.
    return strategy._held(edited, labels, redraw, colours, mend) if held else edited


def repaint(
    strategy: DiffusionStrategy, runner, timesteps, predict, known, kept, draw: Draw
) -> torch.Tensor:
    """`edit`'s RePaint loop over `timesteps` for sprites `known` (RGBA in [-1, 1]),
    whose pixels where `kept` come back exactly."""
    generator, strength = draw.generator, draw.strength
    resample, precision = draw.options.resample, draw.options.precision

    def noised(t: int) -> torch.Tensor:
        if t < 0:
            return known
        noise = torch.randn(known.shape, generator=generator, device=strategy.device)
        steps_t = torch.full((len(known),), t, device=strategy.device)
        return strategy.schedule.add_noise(known, noise, steps_t)

    x = noised(timesteps[0])
    if strength >= 1:  # ignore the input where it is redrawn: start from pure noise
        x = torch.where(kept, x, torch.randn(x.shape, generator=generator, device=strategy.device))
    with autocast(strategy.device, precision):
        for t in timesteps:
            prev = runner.previous(t)
            for round_ in range(resample):
                x_prev = runner.step(predict(x, t), t, x, generator).float()
                if prev < 0:
                    x_prev = strategy._on_palette(x_prev, predict, draw.options.colours)
                x_prev = torch.where(kept, noised(prev), x_prev)
                if round_ + 1 == resample or prev < 0:
                    x = x_prev
                    break
                ratio = strategy.schedule.abar(t) / strategy.schedule.abar(prev)
                noise = torch.randn(known.shape, generator=generator, device=strategy.device)
                x = math.sqrt(ratio) * x_prev + math.sqrt(1 - ratio) * noise
    return ((x.float().clamp(-1, 1) + 1) / 2).contiguous()
