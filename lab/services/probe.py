"""A probe that runs inside a lab node and makes real traffic: resolve the target through the
node's resolver, open a TCP connection, and (for HTTPS ports) send one real GET over TLS checked
against the lab CA, signed with SigV4 when asked (as the AWS CLI and boto3 sign theirs). It prints
one JSON line; its local port names the flow in the captures.

    python -m lab.services.probe --target lab-bucket.s3.ap-northeast-2.amazonaws.com --port 443
"""

from __future__ import annotations

import argparse
import errno
import json
import socket
import ssl
import time

from lab.model import regions
from lab.model.endpoint_names import endpoint_name_parts
from lab.results import Outcome

USER_AGENT = "vpclab-probe"  # what S3 sees as aws:UserAgent (lab.analysis.s3_policy predicts with it)
OUTCOME_BY_ERRNO = {
    errno.ECONNREFUSED: Outcome.REFUSED,
    errno.EHOSTUNREACH: Outcome.NO_ROUTE,
    errno.ENETUNREACH: Outcome.NO_ROUTE,
    errno.ETIMEDOUT: Outcome.TIMEOUT,
}


def resolve(target: str) -> list[str]:
    try:
        socket.inet_aton(target)
        return [target]
    except OSError:
        infos = socket.getaddrinfo(target, None, socket.AF_INET, socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def signature(host: str, path: str, tls: bool) -> dict[str, str]:
    """SigV4 headers for GET https://host/path with the node's AWS credentials (the environment),
    so the service sees the request an AWS SDK would send: S3's signer for S3, the plain one with the
    service's own signing name for the others; the region and service are the host name's."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import Session

    service, endpoint = regions.service_for_hostname(host), endpoint_name_parts(host)
    region = service.region if service else endpoint.group("region") if endpoint else "us-east-1"
    name = service.service if service else endpoint.group("service") if endpoint else "s3"
    request = AWSRequest("GET", f"{'https' if tls else 'http'}://{host}{path}", headers={"Host": host})
    signer = S3SigV4Auth if name == "s3" else SigV4Auth
    signer(Session().get_credentials(), name, region).add_auth(request)  # each service signs as its own name
    return {k: v for k, v in request.headers.items() if k.lower() != "host"}


def http_get(sock: socket.socket, host: str, path: str, tls: bool, timeout: float, sign: bool) -> dict:
    headers = "".join(f"{k}: {v}\r\n" for k, v in (signature(host, path, tls) if sign else {}).items())
    if tls:
        # create_default_context honours SSLKEYLOGFILE (captures/tls-keys.log in the lab): Wireshark decrypts it
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    sock.settimeout(timeout)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n{headers}Connection: close\r\n\r\n".encode()
    )
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    status_line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = status_line.split()
    return {"http_status": int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None, "response_bytes": len(data)}


def probe(target: str, port: int, timeout: float, path: str | None, sign: bool = False) -> dict:
    result: dict = {"target": target, "port": port, "started": time.time()}
    try:
        addresses = resolve(target)
    except socket.gaierror as exc:
        return result | {"outcome": Outcome.DNS_FAILURE, "error": exc.strerror}
    result["addresses"] = addresses
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind(("0.0.0.0", 0))
    result["source"] = list(sock.getsockname())
    try:
        sock.connect((addresses[0], port))
    except TimeoutError:
        return result | {"outcome": Outcome.TIMEOUT}
    except OSError as exc:
        return result | {"outcome": OUTCOME_BY_ERRNO.get(exc.errno or 0, Outcome.ERROR), "error": exc.strerror}
    result["source"] = list(sock.getsockname())
    result["outcome"] = Outcome.OK
    if path is not None:
        try:
            result |= http_get(sock, target, path, tls=port == 443, timeout=timeout, sign=sign)
        except (OSError, ssl.SSLError) as exc:
            result |= {"outcome": Outcome.ERROR, "error": f"{type(exc).__name__}: {exc}"}
        if result.get("http_status") == 403:
            result["outcome"] = Outcome.DENIED
    sock.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--path", help="send one HTTP GET for this path after connecting")
    parser.add_argument("--sign", action="store_true", help="sign the GET with SigV4, as an AWS SDK does")
    args = parser.parse_args()
    print(json.dumps(probe(args.target, args.port, args.timeout, args.path, args.sign)), flush=True)


if __name__ == "__main__":
    main()
