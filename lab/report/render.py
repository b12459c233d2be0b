"""Running Graphviz's `dot` (Debian package graphviz, installed by scripts/provision.sh) on the DOT
text of lab.report.graph: the one place vpclab starts it. `dot` is its own format: the text as is."""

from __future__ import annotations

import graphviz

from lab.errors import EnvironmentFailure

FORMATS = ("svg", "png", "dot")


def render(dot: str, fmt: str) -> bytes:
    """The picture in `fmt` (one of FORMATS)."""
    if fmt == "dot":
        return dot.encode()
    try:
        return graphviz.Source(dot).pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:
        raise EnvironmentFailure(
            "drawing needs Graphviz's dot program, which is not installed: run scripts/provision.sh "
            "(or apt-get install graphviz), or ask for --format dot"
        ) from exc
    except graphviz.CalledProcessError as exc:
        raise EnvironmentFailure(f"dot failed to lay out the graph: {exc.stderr.decode(errors='replace').strip()}") from exc
