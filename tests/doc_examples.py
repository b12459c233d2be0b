"""The examples of vpclab's output in README.md and docs/*.md, found, run and compared with what
vpclab prints now, so that a change to an output shows up as a failing example instead of a doc
that quietly lies. The convention (how an example is marked, what is normalised) is documented in
docs/architecture.md, "Examples in the docs are checked"; in short:

    <!-- checked[ in DIR][: COMMAND] -->      before a fenced block of output; COMMAND, or the
    ```                                       block's own first line `$ vpclab ...`, is run in a
    $ vpclab validate lab.yaml                fresh directory holding copies of topologies/,
    lab.yaml:12: ...                          scenarios/, tests/data/docs/DIR and the doc's files
    ```
    <!-- file: NAME -->                        before a block that is a file the examples after it use
    <!-- copy of: PATH -->                     before a YAML block that holds the same data as PATH
    <!-- unchecked: WHY -->                    before a block that looks like output but is not checked

tests/unit/test_doc_examples.py runs the verbs that need no root,
tests/integration/test_doc_examples_lab.py the others.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
from contextlib import chdir, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = ("README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")))
FIXTURES = REPO / "tests" / "data" / "docs"
PURE_VERBS = frozenset({"validate", "plan", "explain", "inspect"})
LAB_VERBS = frozenset({"run", "trace", "demo"})
MARKER = re.compile(r"<!-- (checked|file|copy of|unchecked)(?: in (\S+))?(?::\s*(.*?))?\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")
SHOW_EXIT = '; echo "exit status $?"'
ELIDED = "\u2026"  # what a bare ... in a JSON example becomes


@dataclass(frozen=True)
class Block:
    """One fenced block of a doc, with the marker on the line before it (kind None: no marker)."""

    doc: str
    line: int  # of the opening fence, from 1
    language: str
    text: str
    kind: str | None = None
    directory: str | None = None
    argument: str | None = None

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


@dataclass(frozen=True)
class Example:
    """A checked block: the command, where it runs, and the output it must show."""

    block: Block
    command: str
    expected: str
    files: tuple[tuple[str, str], ...]  # the doc's `file:` blocks above it, (name, text)

    def __str__(self) -> str:
        return f"{self.block} ({self.command})"

    @property
    def argv(self) -> list[str]:
        words = shlex.split(self.command.removesuffix(SHOW_EXIT))
        return words[1:] if words[0] == "sudo" else words

    @property
    def verb(self) -> str:
        return next((w for w in self.argv[1:] if not w.startswith("-")), "")


def blocks(doc: str) -> list[Block]:
    """Every fenced block of a doc, with its marker if the line before the fence holds one."""
    lines = (REPO / doc).read_text(encoding="utf-8").split("\n")
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        marker = MARKER.fullmatch(lines[i - 1].strip()) if i else None
        found.append(Block(doc, i + 1, opening[1], "\n".join(lines[i + 1 : end]), *(marker.groups() if marker else ())))
        i = end + 1
    return found


def examples(doc: str) -> list[Example]:
    """The checked blocks of a doc, each with the doc's files written before it."""
    found, files = [], []
    for block in blocks(doc):
        if block.kind == "file":
            files.append((block.argument, block.text + "\n"))
        elif block.kind == "checked":
            found.append(example(block, tuple(files)))
    return found


def example(block: Block, files: tuple[tuple[str, str], ...]) -> Example:
    first, _, rest = block.text.partition("\n")
    if first.startswith("$ "):
        assert not block.argument, f"{block}: the command is the block's $ line; the marker repeats it"
        return Example(block, first[2:], rest, files)
    assert block.argument, f"{block}: a checked block needs a command, in its marker or as a $ line"
    return Example(block, block.argument, block.text, files)


def all_examples() -> list[Example]:
    return [e for doc in DOCS for e in examples(doc)]


def run(example: Example, tmp: Path) -> str:
    """Run the example's command in a fresh directory under tmp with vpclab's main(argv), stdout and
    stderr into one text as a terminal shows them. A path under /tmp/ in the command is made under
    tmp instead, and reads /tmp/ again in the output."""
    from lab.cli.main import main

    work, scratch = workspace(example, tmp), tmp / "scratch"
    argv = [str(scratch) + a[4:] if a.startswith("/tmp/") else a for a in example.argv[1:]]
    out = io.StringIO()
    with chdir(work), redirect_stdout(out), redirect_stderr(out):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own errors and --help
            code = exc.code
    text = out.getvalue().replace(f"{scratch}/", "/tmp/")
    return text + (f"exit status {code}\n" if example.command.endswith(SHOW_EXIT) else "")


def workspace(example: Example, tmp: Path) -> Path:
    """What a reader has at hand: the shipped topologies and scenarios (copies, so nothing an
    example does can touch the repository), the example's fixture directory, the doc's files."""
    work = tmp / "work"
    for name in ("topologies", "scenarios"):
        shutil.copytree(REPO / name, work / name)  # symlinks followed: topologies/ links to lab/data
    if example.block.directory:
        shutil.copytree(FIXTURES / example.block.directory, work, dirs_exist_ok=True)
    for name, text in example.files:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text, encoding="utf-8")
    return work


def mismatch(example: Example, actual: str) -> str | None:
    """Why the output does not match the example, or None when it does."""
    if example.block.language == "json":
        return json_mismatch(json_pattern(example.expected), json.loads(actual))
    return text_mismatch(example.expected, actual)


# Normalisation: what changes from run to run reads the same in the doc and in the output.
ADDRESS_PORT = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3}):(\d+)\b")
PACKETS = re.compile(r"\b\d+ packets?\b")
SECONDS = re.compile(r"\b\d+\.\d s\b")  # a step's or a run's time, as `vpclab run` shows it


def normalised(text: str) -> list[str]:
    """Lines without trailing blanks; drop counts as `N packets`; times as `T s`; in each line, ports
    from 1024 up (ephemeral ports, chosen by the kernel) numbered by first appearance, so a port kept
    across a NAT still reads the same twice and a port changed does not."""
    return [numbered_ports(SECONDS.sub("T s", PACKETS.sub("N packets", line.rstrip()))) for line in text.rstrip().split("\n")]


def numbered_ports(line: str) -> str:
    seen: dict[str, int] = {}

    def number(m: re.Match) -> str:
        if int(m[2]) < 1024:
            return m[0]
        return f"{m[1]}:<port {seen.setdefault(m[2], len(seen) + 1)}>"

    return ADDRESS_PORT.sub(number, line)


def elision(line: str) -> bool:
    return line.strip().startswith("...")


def excerpt_matches(want: list[str], got: list[str]) -> bool:
    """Every line of `want` is a line of `got`, in order and adjacent, except that a line starting
    with ... stands for any number of lines (none included)."""
    pattern = "".join(r"(?:.*\n)*?" if elision(line) else re.escape(line) + "\n" for line in want)
    return re.fullmatch(pattern, "".join(f"{line}\n" for line in got)) is not None


def text_mismatch(expected: str, actual: str) -> str | None:
    want, got = normalised(expected), normalised(actual)
    if excerpt_matches(want, got):
        return None
    shown = next(k for k in range(len(want), -1, -1) if excerpt_matches(want[:k] + ["..."], got))
    first = want[shown] if shown < len(want) else "(the end of the example: the output goes on)"
    return f"the first line of the example that the output does not show is line {shown + 1}: {first!r}"


def json_pattern(text: str) -> object:
    """The example's JSON, with each bare ... (outside strings) made an elision: as a list item, any
    number of items; as a value, any value; as a member `"...": ...`, any other members."""
    out, in_string, i = [], False, 0
    while i < len(text):
        if in_string and text[i] == "\\":
            out.append(text[i : i + 2])
            i += 2
            continue
        if text[i] == '"':
            in_string = not in_string
        if not in_string and text.startswith("...", i):
            out.append(f'"{ELIDED}"')
            i += 3
            continue
        out.append(text[i])
        i += 1
    return json.loads("".join(out))


def json_mismatch(want: object, got: object, where: str = "") -> str | None:
    if want == ELIDED:
        return None
    if isinstance(want, dict) and isinstance(got, dict):
        return dict_mismatch(want, got, where)
    if isinstance(want, list) and isinstance(got, list):
        return list_mismatch(want, got, where)
    if isinstance(want, str) and isinstance(got, str) and normalised(want) == normalised(got):
        return None
    return None if want == got else f"{where or 'the whole'}: the example shows {want!r}, the real one has {got!r}"


def dict_mismatch(want: dict, got: dict, where: str) -> str | None:
    shown = set(want) - {"..."}
    if shown - set(got) or ("..." not in want and set(got) - shown):
        return (
            f"{where or 'the output'}: the example's keys {sorted(shown)} differ from the output's "
            f'{sorted(got)} (write "...": ... for keys left out)'
        )
    return next((m for key in sorted(shown) for m in [json_mismatch(want[key], got[key], f"{where}.{key}")] if m), None)


def list_mismatch(want: list, got: list, where: str, start: int = 0) -> str | None:
    if not want:
        return None if not got else f"{where}[{start}]: {len(got)} more items than the example shows"
    if want[0] == ELIDED:
        if all(list_mismatch(want[1:], got[k:], where, start + k) for k in range(len(got) + 1)):
            return f"{where}: no items of the output match the items the example shows after a ..."
        return None
    if not got:
        return f"{where}[{start}]: the example shows more items than the output has"
    return json_mismatch(want[0], got[0], f"{where}[{start}]") or list_mismatch(want[1:], got[1:], where, start + 1)


OUTPUT_SIGNS = re.compile(
    r"^\$ (sudo )?vpclab |^\S+:\d+: .*\([\w.]+\)$|kernel table \d+|^\s+(PASS|FAIL)  "
    r"|predicted (outcome|by AWS's rules)"
)


def unmarked_output() -> list[Block]:
    """Blocks that look like vpclab's output (a `$ vpclab` line, a `file:line: ... (Code)` error, a
    plan's route table, a scenario's PASS/FAIL, a prediction; any JSON) but carry no marker."""
    return [
        b
        for doc in DOCS
        for b in blocks(doc)
        if b.kind is None and (b.language == "json" or any(OUTPUT_SIGNS.search(line) for line in b.text.split("\n")))
    ]


def copy_mismatch(block: Block) -> str | None:
    """A `copy of:` block must hold the same data as its file (comments and layout aside), except
    where it says `...`: as a list item (`- ...`) any items, as a value any value, as a key
    (`...: ...`) any other keys, as in a JSON example."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    shown, real = yaml.load(block.text), yaml.load((REPO / block.argument).read_text(encoding="utf-8"))
    return json_mismatch(elided(shown), real)


def elided(data: object) -> object:
    """YAML data with each `...` value made an elision (keys stay `...`, as in json_pattern)."""
    if isinstance(data, dict):
        return {key: elided(value) for key, value in data.items()}
    if isinstance(data, list):
        return [elided(item) for item in data]
    return ELIDED if data == "..." else data
