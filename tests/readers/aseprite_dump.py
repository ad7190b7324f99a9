"""Read an .aseprite file with the `aseprite` library (PyPI) and print what it holds as
JSON: run by the export tests under the reader's own Python (>= 3.12, see
scripts/readers.sh), so nothing of pixelgen is imported here."""

import base64
import json
import sys

from aseprite import Sprite

sprite = Sprite.open(sys.argv[1])
print(
    json.dumps(
        {
            "size": list(sprite.size),
            "color_mode": int(sprite.color_mode),
            "transparent_index": sprite.transparent_index,
            "palette": [[c.r, c.g, c.b, c.a] for c in sprite.palette.colors],
            "tags": [[t.name, t.from_frame, t.to_frame] for t in sprite.tags],
            "layers": [layer.name for layer in sprite.layers],
            "frames": [
                base64.b64encode(sprite.flatten(i)).decode() for i in range(len(sprite.frames))
            ],
        }
    )
)
