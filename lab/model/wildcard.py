"""IAM's wildcards, matched in time linear in the text for each piece of the pattern, never by backtracking.

"You can use wildcard characters (* and ?) ... The asterisk (*) represents any combination of zero or
more characters, and the question mark (?) represents any single character"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html); a `*`
also spans `/`. A pattern is split at its `*`s: the first piece must start the text, the last must
end it, and each piece between is taken at its leftmost place after the one before. Leftmost is
always right for `*` and `?` alone (whatever a later piece needs, an earlier end leaves more text
for it), so no choice is ever undone: at most O(len(pattern) * len(text)) steps (a `str.find` per
literal piece, a fixed-length regex search per piece with `?`). A regex with a `.*` per `*`
backtracks in time that grows as a power of the key's length, one per `*` (a key of 800 slashes
took 8.75 s under four); the S3 front evaluates every request with these, so a slow match would
stall every client of the front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def _fits(piece: str, text: str, at: int) -> bool:
    """`piece` (literal characters and `?`) matches text[at:at + len(piece)]."""
    if at < 0 or at + len(piece) > len(text):
        return False
    return all(p == "?" or p == c for p, c in zip(piece, text[at : at + len(piece)]))


def _finder(piece: str):
    """The leftmost place in text[start:end] where `piece` matches, or -1: `str.find` for a literal
    piece; for one with `?`, a regex of fixed length (literals and `.`, no quantifier, so nothing to
    backtrack into: at most len(piece) steps at each place, in C)."""
    if "?" not in piece:
        return lambda text, start, end: text.find(piece, start, end)
    fixed = re.compile("".join("." if c == "?" else re.escape(c) for c in piece), re.DOTALL)

    def find(text: str, start: int, end: int) -> int:
        found = fixed.search(text, start, end)
        return found.start() if found else -1

    return find


@dataclass(frozen=True)
class Wildcard:
    """One compiled pattern: `Wildcard("arn:aws:s3:::b/*.log").fullmatch(resource)`.
    `ignore_case` for actions: "the prefix and the action name are case insensitive"
    (reference_policies_elements_action.html)."""

    pattern: str
    ignore_case: bool = False
    pieces: tuple[str, ...] = field(init=False, repr=False, compare=False)
    finders: tuple = field(init=False, repr=False, compare=False)  # one per piece between the ends

    def __post_init__(self) -> None:
        folded = self.pattern.lower() if self.ignore_case else self.pattern
        object.__setattr__(self, "pieces", tuple(folded.split("*")))
        object.__setattr__(self, "finders", tuple(_finder(p) for p in self.pieces[1:-1]))

    def fullmatch(self, text: str) -> bool:
        text = text.lower() if self.ignore_case else text
        first, *middle, last = self.pieces if len(self.pieces) > 1 else (self.pieces[0], None)
        if last is None:
            return len(text) == len(first) and _fits(first, text, 0)
        start, end = len(first), len(text) - len(last)
        if start > end or not (_fits(first, text, 0) and _fits(last, text, end)):
            return False
        for piece, find in zip(middle, self.finders):
            found = find(text, start, end)
            if found < 0:
                return False
            start = found + len(piece)
        return True
