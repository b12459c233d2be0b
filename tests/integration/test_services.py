"""The service processes for real: each runs as the realizer will run it (`python -m lab.services.X
--config FILE`, READY on stdout, SIGTERM to stop), inside a throwaway network namespace.

The first service of a test starts under `unshare -n`, which gives it a namespace of its own with
only `lo`; the test puts the service's public address on `lo` before the service starts. Clients
(curl, boto3, the AWS CLI, dnslib) and any second service join that namespace with `nsenter --net`.
A client that needs the lab's DNS or a hosts file also gets a private mount namespace
(`unshare -m`) for the bind mount, as lab nodes do (measurements.md section 9 and Trap 14).
Each test stops exactly the processes it started, by pid; the namespace ends with its last process.
The root namespace never gets an address, a route, a rule or a mount: `root_untouched` checks it
(labsafety's root snapshot).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import selectors
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from labsafety import prerequisite_missing, root_snapshot

from lab.model import ids, regions
from lab.plan.dns import public_records
from lab.plan.serialize import to_data
from lab.plan.types import DnsRecord
from lab.services.ca import make_lab_ca

REPO = Path(__file__).resolve().parents[2]
SEOUL = "ap-northeast-2"
S3_IP = str(regions.region(SEOUL).services["s3"].addresses[0])  # 52.219.60.10
DDB_IP = str(regions.region(SEOUL).services["dynamodb"].addresses[0])
CLIENT_IP = "10.0.2.15"
VPCE = "vpce-0a1b2c3d4e5f60718"
INGRESSES = [
    {"name": "internet", "http": 10080, "https": 10443},
    {"name": VPCE, "http": 10081, "https": 10444, "vpc_id": "vpc-0a1b2c3d4e5f60718", "policy": None},
]
OBJECTS = {"hello.txt": "hello\n", "dir/ü.txt": "umlaut\n"}


MISSING = prerequisite_missing(
    "each service runs in a network namespace of its own",
    (("unshare", "util-linux"), ("nsenter", "util-linux"), ("ip", "iproute2"), ("nft", "nftables"), ("curl", "curl")),
)
pytestmark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))


@pytest.fixture
def root_untouched():
    before = root_snapshot()
    yield
    diff = before.differences(before.again())
    assert not diff, diff


@pytest.fixture
def lab_ca(tmp_path):
    return make_lab_ca(tmp_path / "ca")


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def wait_ready(proc: subprocess.Popen, stderr: Path, timeout: float = 30) -> None:
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        line = proc.stdout.readline() if sel.select(timeout) else ""
    if not line.startswith("READY "):
        raise AssertionError(f"no READY (got {line!r}, exit {proc.poll()}):\n{stderr.read_text()}")


@contextmanager
def service(module: str, config: Path, *, join: int | None = None, setup: tuple[str, ...] = ()):
    """Run lab.services.`module` until the block ends: in a new namespace prepared by the `setup`
    commands, or in the namespace of process `join`. Yields the service's pid."""
    command = [sys.executable, "-m", f"lab.services.{module}", "--config", str(config)]
    if join is None:
        script = "; ".join(("ip link set lo up", *setup, 'exec "$@"'))
        argv = ["unshare", "-n", "sh", "-ec", script, "sh", *command]  # one process: sh execs the service
    else:
        argv = ["nsenter", f"--net=/proc/{join}/ns/net", *command]
    stderr = config.with_suffix(".stderr")
    with open(stderr, "w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO)
    try:
        wait_ready(proc, stderr)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=5) == 0, stderr.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def run_in(
    pid: int, argv: list[str], mounts: dict[str, Path] | None = None, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run a client in the namespace of `pid`, with `mounts` (target -> file) bound in a private mount namespace."""
    prefix = ["nsenter", f"--net=/proc/{pid}/ns/net"]
    if mounts:
        binds = "; ".join(f"mount --bind {source} {target}" for target, source in mounts.items())
        prefix += ["unshare", "-m", "sh", "-ec", f'{binds}; exec "$@"', "sh"]
    return subprocess.run(prefix + argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


def python_in(pid: int, code: str, **kw) -> object:
    run = run_in(pid, [sys.executable, "-c", textwrap.dedent(code)], **kw)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def aws_env(ca: Path) -> dict[str, str]:
    """What the realizer gives a lab node's processes: the lab CA (overriding any machine-wide
    AWS_CA_BUNDLE, Trap 15), dummy credentials, the lab's region, no instance metadata."""
    return {
        **os.environ,
        "AWS_CA_BUNDLE": str(ca),
        "SSL_CERT_FILE": str(ca),
        "REQUESTS_CA_BUNDLE": str(ca),
        "AWS_ACCESS_KEY_ID": ids.ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ids.SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": SEOUL,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


def s3_front_config(tmp_path: Path, lab_ca) -> Path:
    cert, key = lab_ca.issue_for(regions.region(SEOUL).services["s3"])
    return write_json(
        tmp_path / "s3.json",
        {
            "service": "s3",
            "region": SEOUL,
            "ingresses": INGRESSES,
            "cert": str(cert),
            "key": str(key),
            "request_log": str(tmp_path / "requests.jsonl"),
            "buckets": [{"name": "lab-bucket", "region": SEOUL, "objects": OBJECTS}],
        },
    )


def requests_logged(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]


# curl signs like an SDK with the lab's key; S3 also wants the payload's hash, which curl 7.88 does not send
CURL_SIGNED = [
    "--aws-sigv4",
    f"aws:amz:{SEOUL}:s3",
    "--user",
    f"{ids.ACCESS_KEY_ID}:{ids.SECRET_ACCESS_KEY}",
    "-H",
    f"x-amz-content-sha256: {hashlib.sha256(b'').hexdigest()}",
]


def curl(pid: int, lab_ca, url: str, *options: str) -> tuple[int, str]:
    run = run_in(pid, ["curl", "-sS", "--cacert", str(lab_ca.ca_path), "-o", "-", "-w", "\n%{http_code}", *options, url])
    assert run.returncode == 0, run.stderr
    body, _, status = run.stdout.rpartition("\n")
    return int(status), body


@pytest.mark.timeout(90)
def test_s3_front_answers_on_every_ingress_and_logs_who_asked(tmp_path, lab_ca, root_untouched):
    config = s3_front_config(tmp_path, lab_ca)
    signed = CURL_SIGNED
    vhost = f"lab-bucket.s3.{SEOUL}.amazonaws.com"
    setup = (f"ip addr add {S3_IP}/32 dev lo", f"ip addr add {CLIENT_IP}/32 dev lo")
    with service("front", config, setup=setup) as pid:
        # virtual-hosted style over HTTPS, through the endpoint's ingress
        assert curl(pid, lab_ca, f"https://{vhost}:10444/hello.txt", "--resolve", f"{vhost}:10444:{S3_IP}", *signed) == (
            200,
            "hello\n",
        )
        # path style over HTTP, through the internet ingress, from a known address and port
        status, body = curl(
            pid,
            lab_ca,
            f"http://s3.{SEOUL}.amazonaws.com:10080/lab-bucket/dir/%C3%BC.txt",
            "--resolve",
            f"s3.{SEOUL}.amazonaws.com:10080:{S3_IP}",
            "--interface",
            CLIENT_IP,
            "--local-port",
            "41234",
            *signed,
        )
        assert (status, body) == (200, "umlaut\n")
        status, body = curl(pid, lab_ca, f"https://{vhost}:10443/nokey", "--resolve", f"{vhost}:10443:{S3_IP}", *signed)
        assert status == 404 and "<Code>NoSuchKey</Code>" in body and "<Key>nokey</Key>" in body
        status, body = curl(pid, lab_ca, f"https://{vhost}:10443/hello.txt", "--resolve", f"{vhost}:10443:{S3_IP}")
        assert status == 403 and "<Code>AccessDenied</Code>" in body  # anonymous, private object
        ddb = f"dynamodb.{SEOUL}.amazonaws.com"
        other = run_in(
            pid, ["curl", "-sS", "--cacert", str(lab_ca.ca_path), "--resolve", f"{ddb}:10443:{S3_IP}", f"https://{ddb}:10443/"]
        )
        assert other.returncode == 60, other.stderr  # the certificate names S3 only
    logged = requests_logged(tmp_path)
    assert [(r["ingress"], r["vpce_id"], r["scheme"], r["bucket"], r["key"], r["status"]) for r in logged] == [
        ("vpce-0a1b2c3d4e5f60718", VPCE, "https", "lab-bucket", "hello.txt", 200),
        ("internet", None, "http", "lab-bucket", "dir/ü.txt", 200),
        ("internet", None, "https", "lab-bucket", "nokey", 404),
        ("internet", None, "https", "lab-bucket", "hello.txt", 403),
    ]
    assert (logged[1]["source_ip"], logged[1]["source_port"], logged[1]["method"]) == (CLIENT_IP, 41234, "GET")


@pytest.mark.timeout(90)
def test_s3_front_enforces_endpoint_and_bucket_policies_before_moto(tmp_path, lab_ca, root_untouched):
    """The endpoint allows lab-bucket only; the bucket denies whatever did not come through it."""
    only_lab_bucket = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::lab-bucket", "arn:aws:s3:::lab-bucket/*"],
            }
        ]
    }
    only_via_vpce = {
        "Statement": [
            {
                "Sid": "OnlyViaVpce",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::lab-bucket/*",
                "Condition": {"StringNotEquals": {"aws:sourceVpce": VPCE}},
            }
        ]
    }
    config = json.loads(s3_front_config(tmp_path, lab_ca).read_text())
    config["ingresses"][1]["policy"] = only_lab_bucket
    config["buckets"] = [{**config["buckets"][0], "policy": only_via_vpce}, {"name": "other-bucket", "region": SEOUL}]
    signed = CURL_SIGNED
    with service("front", write_json(tmp_path / "s3.json", config), setup=(f"ip addr add {S3_IP}/32 dev lo",)) as pid:

        def get(port: int, bucket: str, path: str) -> tuple[int, str]:
            host = f"{bucket}.s3.{SEOUL}.amazonaws.com"
            return curl(pid, lab_ca, f"https://{host}:{port}{path}", "--resolve", f"{host}:{port}:{S3_IP}", *signed)

        assert get(10444, "lab-bucket", "/hello.txt") == (200, "hello\n")
        through_internet = get(10443, "lab-bucket", "/hello.txt")
        other_through_vpce = get(10444, "other-bucket", "/?list-type=2")
        other_through_internet = get(10443, "other-bucket", "/?list-type=2")
    assert through_internet[0] == 403 and "<Code>AccessDenied</Code>" in through_internet[1]
    assert "hello" not in through_internet[1]
    assert other_through_vpce[0] == 403 and other_through_internet[0] == 200
    assert [(r["ingress"], r["bucket"], r["decision"], r["denied_by"]) for r in requests_logged(tmp_path)] == [
        (VPCE, "lab-bucket", "allow", None),
        ("internet", "lab-bucket", "deny", "bucket policy of lab-bucket: explicit Deny in statement 'OnlyViaVpce'"),
        (
            VPCE,
            "other-bucket",
            "deny",
            f"endpoint policy of {VPCE}: no statement allows s3:ListBucket on arn:aws:s3:::other-bucket",
        ),
        ("internet", "other-bucket", "allow", None),
    ]


BOTO3_CLIENT = """
    import json
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    s3 = boto3.client("s3")  # region and CA from the environment; names from the lab's DNS
    out = {"buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
           "virtual": s3.get_object(Bucket="lab-bucket", Key="hello.txt")["Body"].read().decode()}
    path_http = boto3.client("s3", endpoint_url="http://s3.ap-northeast-2.amazonaws.com",
                             config=Config(s3={"addressing_style": "path"}))
    out["path"] = path_http.get_object(Bucket="lab-bucket", Key="dir/ü.txt")["Body"].read().decode()
    try:
        s3.get_object(Bucket="lab-bucket", Key="nokey")
    except ClientError as e:
        out["error"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
    print(json.dumps(out))
"""


@pytest.mark.timeout(120)
def test_boto3_and_the_aws_cli_reach_s3_by_name_through_the_lab_dns(tmp_path, lab_ca, root_untouched):
    """The whole chain a lab host uses: the resolver answers the S3 names, ports 80/443 are redirected
    to the internet ingress's ports (here in the output hook, as client and service share a namespace),
    and unmodified boto3 and AWS CLI calls verify the front's certificate through the lab CA."""
    redirect = tmp_path / "redirect.nft"
    redirect.write_text(
        textwrap.dedent(f"""\
        table ip lab {{
          chain output {{
            type nat hook output priority -100; policy accept;
            ip daddr {S3_IP} tcp dport 80 redirect to :10080
            ip daddr {S3_IP} tcp dport 443 redirect to :10443
          }}
        }}
        """)
    )
    resolver = write_json(
        tmp_path / "resolver.json",
        {
            "vpc": "app",
            "node": "app-router",
            "addresses": ["10.0.0.2", "169.254.169.253"],
            "records": to_data(public_records([], {}, SEOUL)),
            "query_log": str(tmp_path / "dns.jsonl"),
        },
    )
    resolv_conf = tmp_path / "resolv.conf"
    resolv_conf.write_text("nameserver 10.0.0.2\noptions timeout:1 attempts:2\n")
    setup = (
        f"ip addr add {S3_IP}/32 dev lo",
        "ip addr add 10.0.0.2/32 dev lo",
        "ip addr add 169.254.169.253/32 dev lo",
        f"nft -f {redirect}",
    )
    env = aws_env(lab_ca.ca_path)
    with service("front", s3_front_config(tmp_path, lab_ca), setup=setup) as front, service("resolver", resolver, join=front):
        got = python_in(front, BOTO3_CLIENT, mounts={"/etc/resolv.conf": resolv_conf}, env=env)
        cli = run_in(
            front,
            [str(Path(sys.executable).parent / "aws"), "s3", "cp", "s3://lab-bucket/hello.txt", "-"],
            mounts={"/etc/resolv.conf": resolv_conf},
            env=env,
        )
    assert {k: got[k] for k in ("buckets", "virtual", "path", "error")} == {
        "buckets": ["lab-bucket"],
        "virtual": "hello\n",
        "path": "umlaut\n",
        "error": ["NoSuchKey", 404],
    }
    assert (cli.returncode, cli.stdout) == (0, "hello\n"), cli.stderr
    hosts = {(r["host"], r["scheme"], r["ingress"]) for r in requests_logged(tmp_path)}
    assert {
        (f"lab-bucket.s3.{SEOUL}.amazonaws.com", "https", "internet"),
        (f"s3.{SEOUL}.amazonaws.com", "http", "internet"),
    } <= hosts
    names = {json.loads(line)["name"] for line in (tmp_path / "dns.jsonl").read_text().splitlines()}
    assert f"lab-bucket.s3.{SEOUL}.amazonaws.com" in names


# A front's server, run in a network namespace of its own, answers with the TCP_NODELAY of the very
# connection it serves: without it werkzeug's TLS writes meet Nagle and delayed ACKs and each request
# stalls 17-48 ms (measurements.md section 9). Checked as behaviour, not as a latency that load moves.
NODELAY_PROBE = """
    import socket, urllib.request
    from lab.services.front import serve
    def app(environ, start_response):
        nodelay = environ["werkzeug.socket"].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(nodelay).encode()]
    serve(app, 18080, None)
    print(urllib.request.urlopen("http://127.0.0.1:18080/", timeout=5).read().decode())
"""


def test_every_front_connection_has_tcp_nodelay():
    run = subprocess.run(
        ["unshare", "-n", "sh", "-ec", f'ip link set lo up; exec {sys.executable} -c "$0"', textwrap.dedent(NODELAY_PROBE)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert (run.returncode, run.stdout.strip()) == (0, "1"), run.stderr


DNS_CLIENT = """
    import json
    from dnslib import DNSRecord, RCODE
    def ask(server, name, qtype="A", tcp=False):
        reply = DNSRecord.parse(DNSRecord.question(name, qtype).send(server, 53, tcp=tcp, timeout=5))
        return [RCODE[reply.header.rcode], [str(rr.rdata) for rr in reply.rr]]
    print(json.dumps([ask("10.0.0.2", "lab-bucket.s3.ap-northeast-2.amazonaws.com"),
                      ask("169.254.169.253", "ip-10-0-2-15.ap-northeast-2.compute.internal", tcp=True),
                      ask("10.0.0.2", "example.com"),
                      ask("10.0.0.2", "s3.ap-northeast-2.amazonaws.com", "AAAA")]))
"""


@pytest.mark.timeout(60)
def test_resolver_answers_planned_names_on_both_addresses(tmp_path, root_untouched):
    records = [
        DnsRecord(f"ip-10-0-2-15.{SEOUL}.compute.internal", (ipaddress.IPv4Address(CLIENT_IP),), "ec2-private"),
        *public_records([], {}, SEOUL),
    ]
    config = write_json(
        tmp_path / "resolver.json",
        {
            "vpc": "app",
            "addresses": ["10.0.0.2", "169.254.169.253"],
            "records": to_data(records),
            "query_log": str(tmp_path / "dns.jsonl"),
        },
    )
    setup = ("ip addr add 10.0.0.2/32 dev lo", "ip addr add 169.254.169.253/32 dev lo", f"ip addr add {CLIENT_IP}/32 dev lo")
    with service("resolver", config, setup=setup) as pid:
        answers = python_in(pid, DNS_CLIENT)
    assert answers == [["NOERROR", [S3_IP, "3.5.140.10"]], ["NOERROR", [CLIENT_IP]], ["NXDOMAIN", []], ["NOERROR", []]]
    logged = [json.loads(line) for line in (tmp_path / "dns.jsonl").read_text().splitlines()]
    assert [(q["protocol"], q["name"], q["type"], q["rcode"], q["origin"]) for q in logged] == [
        ("udp", f"lab-bucket.s3.{SEOUL}.amazonaws.com", "A", "NOERROR", "public"),
        ("tcp", f"ip-10-0-2-15.{SEOUL}.compute.internal", "A", "NOERROR", "ec2-private"),
        ("udp", "example.com", "A", "NXDOMAIN", None),
        ("udp", f"s3.{SEOUL}.amazonaws.com", "AAAA", "NOERROR", "public"),
    ]


@pytest.mark.timeout(30)
def test_a_resolver_without_its_address_says_so_and_exits(tmp_path, root_untouched):
    config = write_json(
        tmp_path / "resolver.json",
        {"vpc": "app", "addresses": ["10.0.0.2"], "records": [], "query_log": str(tmp_path / "dns.jsonl")},
    )
    # lo must be up: in a namespace with no address at all this kernel (6.18) lets any address be bound
    run = subprocess.run(
        [
            "unshare",
            "-n",
            "sh",
            "-ec",
            'ip link set lo up; exec "$@"',
            "sh",
            sys.executable,
            "-m",
            "lab.services.resolver",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=REPO,
    )
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr.rstrip().endswith(
        "cannot listen on 10.0.0.2:53/udp: Cannot assign requested address (the address is on no interface of this namespace)"
    )


DYNAMODB_CLIENT = """
    import json
    import boto3
    ddb = boto3.client("dynamodb", endpoint_url="https://dynamodb.ap-northeast-2.amazonaws.com:10443")
    ddb.put_item(TableName="orders", Item={"id": {"S": "o-1"}, "total": {"N": "42"}})
    item = ddb.get_item(TableName="orders", Key={"id": {"S": "o-1"}})["Item"]
    print(json.dumps({"tables": ddb.list_tables()["TableNames"], "item": item}))
"""


@pytest.mark.timeout(60)
def test_dynamodb_front_serves_its_declared_tables_over_https(tmp_path, lab_ca, root_untouched):
    cert, key = lab_ca.issue_for(regions.region(SEOUL).services["dynamodb"])
    config = write_json(
        tmp_path / "dynamodb.json",
        {
            "service": "dynamodb",
            "region": SEOUL,
            "ingresses": INGRESSES[:1],
            "cert": str(cert),
            "key": str(key),
            "request_log": str(tmp_path / "requests.jsonl"),
            "tables": [{"name": "orders", "region": SEOUL, "partition_key": "id"}],
        },
    )
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{DDB_IP} dynamodb.{SEOUL}.amazonaws.com\n")
    with service("front", config, setup=(f"ip addr add {DDB_IP}/32 dev lo",)) as pid:
        got = python_in(pid, DYNAMODB_CLIENT, mounts={"/etc/hosts": hosts}, env=aws_env(lab_ca.ca_path))
    assert got == {"tables": ["orders"], "item": {"id": {"S": "o-1"}, "total": {"N": "42"}}}
    logged = [(r["ingress"], r["bucket"], r["status"]) for r in requests_logged(tmp_path)]
    assert logged == [("internet", None, 200)] * 3


@pytest.mark.timeout(60)
def test_a_silent_tls_client_does_not_hold_up_the_others(tmp_path, lab_ca, root_untouched):
    """The handshake runs in each connection's thread: a peer that connects and says nothing
    (a port probe, a stuck client) must not stall everyone else's HTTPS."""
    vhost = f"lab-bucket.s3.{SEOUL}.amazonaws.com"
    silent = f"import socket, time; s = socket.create_connection(('{S3_IP}', 10443)); time.sleep(20)"
    with service("front", s3_front_config(tmp_path, lab_ca), setup=(f"ip addr add {S3_IP}/32 dev lo",)) as pid:
        holder = subprocess.Popen(["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", silent])
        try:
            time.sleep(0.3)
            status, _ = curl(
                pid, lab_ca, f"https://{vhost}:10443/hello.txt", "--resolve", f"{vhost}:10443:{S3_IP}", "--max-time", "5"
            )
            assert status == 403  # answered (anonymously denied), not stuck behind the silent peer
        finally:
            holder.kill()
            holder.wait()
