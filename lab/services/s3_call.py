"""One S3 request as the front has read it: shared by the front and the operations it delegates
(DeleteObjects), which need the same parsed request without importing the front."""

from __future__ import annotations

from dataclasses import dataclass

from lab.model.s3_operations import Operation
from lab.model.s3_requests import ROOT, S3Target
from lab.services import sigv4


@dataclass(frozen=True)
class S3Call:
    """One request as S3 reads it."""

    target: S3Target
    op: Operation
    pairs: list[tuple[str, str]]  # the query's parameters, decoded
    signed: sigv4.Signed | None
    copy_source: tuple[S3Target, str | None] | None = None  # CopyObject/UploadPartCopy: source and version
    headers: frozenset[str] = frozenset()  # the request's header names, lower case

    @property
    def params(self) -> set[str]:
        return {k for k, _ in self.pairs}

    @property
    def principal(self) -> str | None:
        return ROOT if self.signed else None
