"""Settings for tests that train the diffusion strategy: this plugin's own, core's, and
a plugin's that builds on it. One home, so a change to what "tiny" means is made once."""

# Two levels of 8 and 16 channels: trains in seconds. Self-attention off: at 8x8 with
# 4-wide heads it was most of such a model's time (the sampler-choice test took 62 s
# with it and 28 s without, on 2026-12-07); a test of attention appends
# "model.attention=true". The outline cleaner small and brief as well.
TINY = [
    "model.channels=[8,16]",
    "model.blocks_per_level=1",
    "model.groups=4",
    "model.attention=false",
    "cleaner.width=8",
    "cleaner.depth=2",
    "cleaner.epochs=1",
]
