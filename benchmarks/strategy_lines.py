"""Lines of strategy code in each shipped plugin and in a freshly scaffolded one, at two
git revisions: what a strategy author writes before and after a change to the contract.

    python benchmarks/strategy_lines.py 1480614 HEAD

Counts code lines: not blank, not comments, not docstrings. "strategy.py" is the module
holding the Strategy subclass; "package" is every module of the plugin's package.
The scaffold is `pixelgen new-strategy`'s template (its $placeholders read as names).
"""

from __future__ import annotations

import argparse
import ast
import io
import subprocess
import tokenize

PLUGINS = ["vae", "vqvae", "diffusion", "maskgit"]
TEMPLATE = "pixelgen_core/templates/strategy/package"
STRATEGY_FILES = ("/strategy.py", "/strategy.py.tmpl")
SKIP = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


def code_lines(source: str) -> int:
    """Lines holding code, docstrings and comments left out."""
    source = source.replace("$", "X_")  # template placeholders become names
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in SKIP:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


MACHINERY = (
    ".backward(",
    "zero_grad(",
    ".step()",
    "clip_grad",
    "unwrap(",
    "get_world_size",
    "lerp_",
    "torch.autocast",
    "open_run",
)


def machinery_lines(source: str) -> int:
    """Lines of training machinery core now owns (backward, optimizer and EMA steps,
    clipping, unwrapping, world size, autocast) or an upward call (`open_run`)."""
    return sum(any(m in line for m in MACHINERY) for line in source.splitlines())


def files_at(revision: str, folder: str) -> dict[str, str]:
    names = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", revision, folder],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    out = {}
    for name in names:
        if name.endswith((".py", ".py.tmpl")):
            shown = subprocess.run(
                ["git", "show", f"{revision}:{name}"], capture_output=True, text=True, check=True
            )
            out[name] = shown.stdout
    return out


def counts(revision: str) -> dict[str, tuple[int, int, int]]:
    """(strategy.py, package, machinery) lines per plugin, and for the scaffold."""
    out = {}
    folders = {p: f"plugins/{p}/pixelgen_{p}" for p in PLUGINS} | {"scaffold": TEMPLATE}
    for name, folder in folders.items():
        files = files_at(revision, folder)
        strategy = next(v for k, v in files.items() if k.endswith(STRATEGY_FILES))
        package = sum(code_lines(v) for v in files.values())
        machinery = sum(machinery_lines(v) for v in files.values())
        out[name] = (code_lines(strategy), package, machinery)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", default="HEAD")
    args = parser.parse_args()
    before, after = counts(args.before), counts(args.after)
    a, b = args.before, args.after
    print(f"| plugin | strategy.py {a} | {b} | package {a} | {b} | machinery {a} | {b} |")
    print("|---|---|---|---|---|---|---|")
    for name in [*PLUGINS, "scaffold"]:
        (s0, p0, m0), (s1, p1, m1) = before[name], after[name]
        print(f"| {name} | {s0} | {s1} ({s1 - s0:+d}) | {p0} | {p1} ({p1 - p0:+d}) | {m0} | {m1} |")


if __name__ == "__main__":
    main()
