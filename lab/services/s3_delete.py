"""DeleteObjects, authorized key by key as S3 does it: one request names up to 1,000 keys, each is
checked as s3:DeleteObject (s3:DeleteObjectVersion with a version id) on its own object, moto deletes
only the allowed ones, and each denied key gets an AccessDenied entry in the DeleteResult
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable

from lab.model.s3_operations import extra_actions
from lab.model.s3_requests import S3Refusal, S3Target
from lab.services.access import VERDICT_KEY, Verdict
from lab.services.authorize import S3Policies
from lab.services.body import buffered_body, replace_body
from lab.services.s3_call import S3Call
from lab.services.s3_xml import MALFORMED, XMLNS, fields, local, parsed

MAX_KEYS = 1000
OBJECT_FIELDS = ("Key", "VersionId", "ETag", "LastModifiedTime", "Size")  # the last three: conditional deletes


def parse_delete(body: bytes) -> tuple[list[tuple[str, str | None]], bool]:
    """(the (key, version id) pairs, quiet) of a Delete document; MalformedXML otherwise."""
    root = parsed(body, "Delete")
    objects = [fields(o, OBJECT_FIELDS, ("Key",)) for o in root if local(o.tag) == "Object"]
    quiet = [c.text or "" for c in root if local(c.tag) == "Quiet"]
    if not objects or len(objects) > MAX_KEYS or len(quiet) > 1 or len(objects) + len(quiet) != len(root):
        raise MALFORMED
    return [(o["Key"], o.get("VersionId")) for o in objects], [q.lower() for q in quiet] == ["true"]


def delete_document(objects: list[tuple[str, str | None]], quiet: bool) -> bytes:
    """The Delete document of exactly these keys. A carriage return is written as a character
    reference: XML parsers turn a raw one into a line feed, so moto would delete another key."""
    root = ET.Element(f"{{{XMLNS}}}Delete")
    ET.SubElement(root, f"{{{XMLNS}}}Quiet").text = "true" if quiet else "false"
    for key, version in objects:
        obj = ET.SubElement(root, f"{{{XMLNS}}}Object")
        ET.SubElement(obj, f"{{{XMLNS}}}Key").text = key
        if version is not None:
            ET.SubElement(obj, f"{{{XMLNS}}}VersionId").text = version
    # S3's namespace given as the default here, not registered: ElementTree's registry is process-wide
    # and another module's default (lab.report.html registers SVG's) would turn it into ns0:
    return ET.tostring(root, default_namespace=XMLNS).replace(b"\r", b"&#13;")  # no markup ElementTree writes holds a raw CR


def with_errors(result: bytes | None, denied: list[tuple[str, str | None]], quiet: bool) -> bytes:
    """moto's DeleteResult plus an AccessDenied error per denied key; in quiet mode only the errors
    ("the response includes only keys where the delete action encountered an error"), which moto
    does not honour."""
    root = ET.fromstring(result) if result else ET.Element(f"{{{XMLNS}}}DeleteResult")
    for deleted in [child for child in root if quiet and local(child.tag) == "Deleted"]:
        root.remove(deleted)
    for key, version in denied:
        error = ET.SubElement(root, f"{{{XMLNS}}}Error")
        ET.SubElement(error, f"{{{XMLNS}}}Key").text = key
        if version is not None:
            ET.SubElement(error, f"{{{XMLNS}}}VersionId").text = version
        ET.SubElement(error, f"{{{XMLNS}}}Code").text = "AccessDenied"
        ET.SubElement(error, f"{{{XMLNS}}}Message").text = "Access Denied"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, default_namespace=XMLNS)


def delete_objects(
    environ: dict, start_response: Callable, call: S3Call, policies: S3Policies, to_backend: Callable
) -> Iterable[bytes]:
    objects, quiet = parse_delete(buffered_body(environ))
    allowed: list[tuple[str, str | None]] = []
    denied: list[tuple[str, str | None]] = []
    reasons: list[str] = []
    extra = extra_actions(call.op, call.headers)  # s3:BypassGovernanceRetention with its header
    for key, version in objects:
        actions = ["s3:DeleteObjectVersion" if version else "s3:DeleteObject", *extra]
        why = next(
            filter(
                None,
                (
                    policies.denial(environ, call.principal, action, call.target.bucket, S3Target(call.target.bucket, key).arn)
                    for action in actions
                ),
            ),
            None,
        )
        (denied if why else allowed).append((key, version))
        reasons += [why] if why else []
    environ[VERDICT_KEY] = Verdict(
        "s3:DeleteObject",
        "deny" if not allowed else "allow",
        f"{len(denied)} of {len(objects)} keys: {reasons[0]}" if denied else None,
    )
    result = _backend_result(environ, call, allowed, quiet, to_backend) if allowed else None
    body = with_errors(result, denied, quiet)
    start_response("200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _backend_result(environ: dict, call: S3Call, allowed: list, quiet: bool, to_backend: Callable) -> bytes:
    body = delete_document(allowed, quiet)
    replace_body(environ, body)
    for name in [k for k in environ if k.startswith(("HTTP_X_AMZ_CHECKSUM_", "HTTP_X_AMZ_SDK_CHECKSUM"))]:
        del environ[name]  # the client's checksums are of its document, not of this one
    status: list[str] = []

    def record(line: str, headers: list, exc_info=None) -> Callable[[bytes], None]:
        status.append(line)
        return lambda _: None

    chunks = to_backend(environ, record, call)
    data = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    if not status or not status[0].startswith("200"):
        raise S3Refusal(500, "InternalError", f"vpclab's S3 backend answered DeleteObjects with {status}: {data[:200]!r}")
    return data
