"""Entry point of the pixel-prior strategy; registers through the public hook only."""

from pixelgen_core import Option, StrategySpec, hookimpl


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="pixel-prior",
            description="Independent per-pixel palette distribution for each class.",
            strategy="pixelgen_pixelprior.strategy:PixelPrior",
            default_config={"training": {"epochs": 3, "lr": 0.5}, "data": {"num_classes": 4}},
            conditional=True,
            train_options=(Option("lr", float, None, "SGD learning rate", "training.lr"),),
            sample_options=(
                Option("temperature", float, 1.0, "softmax temperature of each pixel"),
            ),
        )
    )
