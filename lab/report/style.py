"""Colour for terminal output, as data: a Palette wraps words in ANSI SGR codes, or leaves them as
they are. Whether to colour is the CLI's decision (a terminal, and no NO_COLOR: lab.cli.live); the
renderings in lab.report take a Palette and default to none, so their words are the same either way."""

from __future__ import annotations

from dataclasses import dataclass

RESET = "\x1b[0m"


@dataclass(frozen=True)
class Palette:
    enabled: bool = False

    def paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}{RESET}" if self.enabled and text else text

    def good(self, text: str) -> str:
        return self.paint("32", text)  # green: PASS, passed

    def bad(self, text: str) -> str:
        return self.paint("1;31", text)  # bold red: FAIL, FAILED, a failed expectation

    def title(self, text: str) -> str:
        return self.paint("1", text)  # bold: a scenario's or an act's heading

    def quiet(self, text: str) -> str:
        return self.paint("2", text)  # dim: progress, captures, timings


PLAIN = Palette(False)
COLOUR = Palette(True)
