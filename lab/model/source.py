"""YAML with positions: every mapping remembers the file and line of each of its keys.

Parsing is done by ruamel.yaml (round-trip mode keeps line numbers and rejects duplicate keys);
this module only wraps its nodes so the loader can ask typed questions ("this key, as a CIDR")
and get a TopologyError that names file:line when the answer is no.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeGuard, overload

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent
from ruamel.yaml.parser import RoundTripParser
from ruamel.yaml.reader import ReaderError

from lab.errors import Problem, TopologyError

BAD_VALUE = "InvalidParameterValue"
UNKNOWN_KEY = "UnknownParameter"
MISSING = "MissingParameter"
MAX_YAML_BYTES = 4 * 1024 * 1024  # a 100-VPC topology is about 60 KB
MAX_VALUES = 200_000  # a 100-VPC topology has about 10,000
MAX_DEPTH = 32  # a topology nests 7 levels (vpcs, vpc, security_groups, group, ingress, rule); inline ones 9
FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def is_int(value: object) -> TypeGuard[int]:
    """A YAML integer: ruamel gives `0`, `00` and `1_000` as ScalarInt, an int subclass; a bool is not one."""
    return isinstance(value, int) and not isinstance(value, bool)


def fail(file: str, line: int, message: str, code: str = BAD_VALUE) -> TopologyError:
    """Build (not raise) the error for one problem, so callers read `raise fail(...)`."""
    return TopologyError([Problem(file, line, message, code)])


class Unreadable(Exception):
    """Why a file was not read, and the code to report it with."""

    def __init__(self, reason: str, code: str = "MalformedFile"):
        super().__init__(reason)
        self.code = code


def read_text(path: Path | str, limit: int) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes. Opened without blocking and its
    type checked before the first read: a FIFO would wait forever for a writer, /dev/zero never ends."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise Unreadable(exc.strerror or str(exc), "FileNotFound") from None
    with os.fdopen(fd, "rb") as handle:
        kind = stat.S_IFMT(os.fstat(fd).st_mode)
        if kind != stat.S_IFREG:
            raise Unreadable(f"it is {FILE_KINDS.get(kind, 'a special file')}, not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise Unreadable(f"it is larger than {limit // 1024:,} KiB, more than any lab needs")
    return data.decode("utf-8")


class Shape:
    """Nesting and size of a YAML document, followed through the parser's events as the composer
    takes them: the composer recurses once per level and would run out of stack, and aliases
    expand, so that a few lines of anchors can stand for billions of values (and every str() of
    them in a message would build them all)."""

    def __init__(self, file: str):
        self.file, self.total = file, 0
        self.open: list[list] = []  # [anchor, values so far] of each open collection
        self.sizes: dict[str, int] = {}  # anchor -> how many values it stands for

    def see(self, event) -> None:
        if isinstance(event, CollectionStartEvent):
            self.open.append([event.anchor, 1])
            self.grow(
                1,
                event,
                f"nests deeper than {MAX_DEPTH} levels; a topology or scenario needs fewer than 10",
                len(self.open) > MAX_DEPTH,
            )
        elif isinstance(event, CollectionEndEvent):
            anchor, size = self.open.pop()
            if anchor:
                self.sizes[anchor] = size
            if self.open:
                self.open[-1][1] += size
        elif isinstance(event, (ScalarEvent, AliasEvent)):
            size = self.sizes.get(event.anchor, 1) if isinstance(event, AliasEvent) else 1
            if self.open:
                self.open[-1][1] += size
            self.grow(size, event, f"stands for more than {MAX_VALUES:,} values once its aliases are expanded", False)

    def grow(self, size: int, event, why: str, deep: bool) -> None:
        self.total += size
        if deep or self.total > MAX_VALUES:
            raise fail(self.file, event.start_mark.line + 1, f"the YAML {why}", "MalformedFile")


class ShapedParser(RoundTripParser):
    """ruamel's round-trip parser, showing each event to the document's Shape as the composer takes
    it: one parse, and the composer stopped before the level that would be too deep."""

    def get_event(self):
        event = super().get_event()
        self.loader.shape.see(event)  # the loader is the ShapedYAML that made this parser
        return event


class ShapedYAML(YAML):
    """ruamel's round-trip loader with a ShapedParser, and the Shape its parser reports to."""

    def __init__(self, file: str):
        super().__init__(typ="rt")
        self.Parser, self.shape = ShapedParser, Shape(file)


def load_shaped(file: str, text: str) -> object:
    return ShapedYAML(file).load(text)


def read_yaml(path: Path | str, text: str | None = None) -> Section:
    """Parse one YAML document whose top level must be a mapping."""
    file = str(path)
    if text is None:
        try:
            text = read_text(path, MAX_YAML_BYTES)
        except Unreadable as exc:
            raise fail(file, 0, f"cannot read the file: {exc}", exc.code) from None
        except UnicodeDecodeError:
            raise fail(file, 0, "the file is not UTF-8 text", "MalformedFile") from None
    try:
        data = load_shaped(file, text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = exc.problem if len(exc.problem) <= 300 else exc.problem[:297] + "..."  # a duplicate key quotes both values
        raise fail(file, line, f"not valid YAML: {problem}", "MalformedFile") from None
    except ReaderError as exc:  # a control character: no mark, only an offset into the text
        line = text.count("\n", 0, exc.position) + 1
        raise fail(
            file, line, f"not valid YAML: unacceptable character #x{exc.character:04x}: {exc.reason}", "MalformedFile"
        ) from None
    if not isinstance(data, CommentedMap):
        raise fail(file, 1, "the top level must be a mapping of keys to values", "MalformedFile")
    return Section(data, file, 1, "the file")


def json_line(text: str, path: tuple[str | int, ...]) -> int:
    """The 1-based line of `path` (keys and list indexes, e.g. ("Statement", 0, "Effect")) in a JSON
    document, or of the deepest part of it that exists: Python's json keeps no positions, ruamel's
    round-trip loader (JSON is YAML) does. 1 when the text cannot be read that way."""
    try:
        node = YAML(typ="rt").load(text)
    except Exception:  # noqa: BLE001 - json accepted it; a position is a nicety, never an error
        return 1
    line = 0
    for part in path:
        if isinstance(node, CommentedMap) and part == 0:
            continue  # a lone statement object: the messages call it Statement[0] all the same
        if isinstance(node, CommentedMap) and part in node:
            line, node = node.lc.key(part)[0], node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line, node = node.lc.item(part)[0], node[part]
        else:
            break
    return line + 1


class Section:
    """A YAML mapping plus where it came from; `what` names it in messages ("vpc app")."""

    def __init__(self, data: CommentedMap, file: str, line: int, what: str):
        self.data, self.file, self.line, self.what = data, file, line, what

    def line_of(self, key: str) -> int:
        positions = self.data.lc.data or {}  # a key merged in with '<<' has no position of its own
        return positions[key][0] + 1 if key in positions else self.line

    def error(self, key: str | None, message: str, code: str = BAD_VALUE) -> TopologyError:
        return fail(self.file, self.line_of(key) if key is not None else self.line, message, code)

    def allow(self, *keys: str) -> None:
        """Reject keys outside `keys`, suggesting the closest valid one."""
        for key in self.data:
            if key not in keys:
                near = difflib.get_close_matches(str(key), keys, n=1)
                hint = f"; did you mean '{near[0]}'?" if near else f"; valid keys: {', '.join(keys)}"
                raise self.error(key, f"unknown key '{key}' in {self.what}{hint}", UNKNOWN_KEY)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def require(self, key: str) -> Any:
        if key not in self.data or self.data[key] is None:
            raise self.error(None, f"{self.what} needs '{key}'", MISSING)
        return self.data[key]

    @overload
    def text(self, key: str) -> str | None: ...

    @overload
    def text(self, key: str, default: str) -> str: ...

    def text(self, key: str, default: str | None = None) -> str | None:
        """A string, or None when the key is absent or empty. With a default, an absent key takes it
        and an empty one (`key:` and nothing after it) is an error: it says neither."""
        value = self.data.get(key, default)
        if value is None and default is not None:
            raise self.error(key, f"'{key}' is empty; write a {key} such as {default}", MISSING)
        return None if value is None else self.string(key, value)

    def required_text(self, key: str) -> str:
        """A string that must be given, not empty."""
        return self.string(key, self.require(key))

    def string(self, key: str, value: object) -> str:
        if isinstance(value, str):
            return value
        raise self.error(key, f"{self.what}: '{key}' must be a string, not {value!r}")

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if isinstance(value, bool):
            return value
        raise self.error(key, f"{self.what}: '{key}' must be true or false, not {value!r}")

    def network(self, key: str, block: bool = False) -> ipaddress.IPv4Network:
        """An IPv4 CIDR block. A rule's or route's 10.0.1.7/24 is read as 10.0.1.0/24; a VPC's or
        subnet's own block (`block`) must name its first address, as CreateVpc and CreateSubnet
        demand: EC2 answers "Value (10.0.0.1/16) for parameter cidrBlock is invalid. This is not a
        valid CIDR block." (InvalidParameterValue; the wording EC2 uses for cidrBlock, as in
        https://www.terraformpilot.com/articles/fix-terraform-error-invalid-cidr-block/), and the VPC
        console refuses 10.0.0.8/28 as "Must be valid Ipv4 CIDR"
        (https://devpeace.com/amazon-vpc/54411123/getting-must-be-valid-ipv4-cidr-error-after-passing-subnets-cidr-block)."""
        value = self.require(key)
        try:
            network = ipaddress.IPv4Network(str(value), strict=False)
        except ValueError:
            raise self.error(key, f"{self.what}: '{value}' is not a valid IPv4 CIDR block") from None
        if block and str(network) != str(value):
            raise self.error(
                key,
                f"{self.what}: Value ({value}) for parameter cidrBlock is invalid. This is "
                f"not a valid CIDR block; did you mean {network}?",
            )
        return network

    def address(self, key: str) -> ipaddress.IPv4Address | None:
        value = self.data.get(key)
        if value is None:
            return None
        try:
            return ipaddress.IPv4Address(str(value))
        except ValueError:
            raise self.error(key, f"{self.what}: '{value}' is not a valid IPv4 address") from None

    def names(self, key: str) -> tuple[str, ...]:
        """A list of names; a single string is accepted as a list of one."""
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, CommentedSeq) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise self.error(key, f"{self.what}: '{key}' must be a list of names")

    def section(self, key: str, what: str) -> Section | None:
        """A mapping, or None when the key is absent or empty."""
        value = self.data.get(key)
        return None if value is None else self.mapping(key, value, what)

    def required_section(self, key: str, what: str) -> Section:
        """A mapping that must be given, not empty."""
        return self.mapping(key, self.require(key), what)

    def mapping(self, key: str, value: object, what: str) -> Section:
        if not isinstance(value, CommentedMap):
            raise self.error(key, f"{what} must be a mapping")
        return Section(value, self.file, self.line_of(key), what)

    def entries(self, key: str, kind: str) -> Iterator[tuple[str, Section]]:
        """Named children: `key: {name: {...}, ...}`, each as a Section called '<kind> <name>'."""
        block = self.section(key, f"'{key}' of {self.what}")
        if block is None:
            return
        for name, value in block.data.items():
            line = block.line_of(name)
            if not isinstance(name, str) or not name:
                raise fail(self.file, line, f"{kind} names must be strings, not {name!r}")
            if value is None:
                value = CommentedMap()
            if not isinstance(value, CommentedMap):
                raise fail(self.file, line, f"{kind} {name} must be a mapping of settings")
            yield name, Section(value, self.file, line, f"{kind} {name}")

    def items(self, key: str, what: str) -> Iterator[Section]:
        """A list of mappings: `key: [{...}, {...}]`, each with its own line."""
        value = self.data.get(key)
        if value is None:
            return
        if not isinstance(value, CommentedSeq):
            raise self.error(key, f"'{key}' of {self.what} must be a list")
        for index, item in enumerate(value):
            line = value.lc.item(index)[0] + 1
            if not isinstance(item, CommentedMap):
                raise fail(self.file, line, f"each entry of '{key}' in {self.what} must be a mapping")
            yield Section(item, self.file, line, what)
