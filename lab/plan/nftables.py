"""nftables rulesets for the nodes where AWS translates or filters, rendered as text for `nft -f`.

Each drop has a counter and a comment naming the reason, so the realizer can read `nft -j list
ruleset` after a run and say where a packet died and why (DESIGN section 4). The IGW and NAT
gateway rules follow the variants measured in ../shared/reference/measurements.md section 4.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from lab.plan.allocation import PublicIp
from lab.plan.types import Ingress


def _set(items: Iterable[object]) -> str:
    return "{ " + ", ".join(str(i) for i in items) + " }"


def quoted(names: Iterable[str]) -> list[str]:
    return [f'"{n}"' for n in names]


def _table(name: str, body: list[str]) -> str:
    return f"table ip {name} {{\n" + "\n".join(f"  {line}" for line in body) + "\n}\n"


def internet_gateway(public_ips: list[PublicIp], inside: str, outside: str) -> str:
    """1:1 NAT between private IPs and their public IPs; nothing else crosses.

    https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html: the IGW performs
    one-to-one NAT for instances that have a public IPv4 address; others cannot use it.
    """
    body = []
    if public_ips:
        pairs = ", ".join(f"{p.address} : {p.private_ip}" for p in public_ips)
        back = ", ".join(f"{p.private_ip} : {p.address}" for p in public_ips)
        body += [
            f"map public_to_private {{ type ipv4_addr : ipv4_addr; elements = {{ {pairs} }} }}",
            f"map private_to_public {{ type ipv4_addr : ipv4_addr; elements = {{ {back} }} }}",
            "chain prerouting {",
            "  type nat hook prerouting priority dstnat; policy accept;",
            f'  iifname "{outside}" dnat ip to ip daddr map @public_to_private',
            "}",
            "chain postrouting {",
            "  type nat hook postrouting priority srcnat; policy accept;",
            f'  oifname "{outside}" snat ip to ip saddr map @private_to_public',
            "}",
        ]
    allowed = f" ip saddr {_set(p.private_ip for p in public_ips)}" if public_ips else ""
    body += [
        "chain forward {",
        "  type filter hook forward priority filter; policy drop;",
        *([f'  iifname "{inside}" oifname "{outside}"{allowed} accept'] if public_ips else []),
        f'  iifname "{inside}" oifname "{outside}" counter drop comment "NO_PUBLIC_IP"',
        f'  iifname "{outside}" ct status snat accept',  # replies to what went out
        f'  iifname "{outside}" ct status dnat accept',  # to a public IP, mapped inward
        f'  iifname "{outside}" counter drop comment "NO_PUBLIC_IP_MAPPING"',
        "}",
    ]
    return _table("internet_gateway", body)


def vpc_router(vpc_cidr: ipaddress.IPv4Network, no_route_dev: str, peerings: list[str]) -> str:
    """Count what the route tables drop: their last-resort routes lead to the `noroute` stub device.
    What a peer sends beyond this VPC's own addresses is the non-transitive case of peering."""
    from_peers = (
        [f'  iifname {_set(quoted(peerings))} oifname "{no_route_dev}" counter drop comment "PEERING_NOT_TRANSITIVE"']
        if peerings
        else []
    )
    return _table(
        "vpc_router",
        [
            "chain forward {",
            "  type filter hook forward priority filter; policy accept;",
            *from_peers,
            f'  oifname "{no_route_dev}" ip daddr {vpc_cidr} counter drop comment "NO_SUCH_ADDRESS"',
            f'  oifname "{no_route_dev}" counter drop comment "NO_ROUTE_TO_DESTINATION"',
            "}",
        ],
    )


def nat_gateway(private_ip: ipaddress.IPv4Address, vpc_cidr: ipaddress.IPv4Network, eni: str, idle_timeout: int) -> str:
    """Source NAT to the NAT gateway's own private IP, ports 1024-65535; no inbound-initiated flows;
    a TCP connection idle for `idle_timeout` seconds (AWS: 350, lab.plan.settings) is forgotten, and
    what it sends afterwards is answered with RST.

    https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html (the IGW then maps the
    private IP to the Elastic IP); port range from the NAT gateway's documented behaviour.
    """
    return _table(
        "nat_gateway",
        [
            f"ct timeout idle {{ protocol tcp; l3proto ip; policy = {{ established: {idle_timeout} }}; }}",
            "chain prerouting {",  # after conntrack made the entry, before it is confirmed
            "  type filter hook prerouting priority filter; policy accept;",
            f'  iifname "{eni}" ct state new ct timeout set "idle"',
            "}",
            "chain postrouting {",
            "  type nat hook postrouting priority srcnat; policy accept;",
            f'  oifname "{eni}" ip saddr {vpc_cidr} ip saddr != {private_ip} meta l4proto {{ tcp, udp }} '
            f"snat ip to {private_ip}:1024-65535",
            f'  oifname "{eni}" ip saddr {vpc_cidr} ip saddr != {private_ip} snat ip to {private_ip}',
            "}",
            "chain forward {",
            "  type filter hook forward priority filter; policy drop;",
            "  ct state established,related accept",
            # a TCP segment that opens nothing: its connection timed out (or never was) here
            f'  iifname "{eni}" ip saddr {vpc_cidr} ct state new tcp flags & (syn | ack) != syn '
            'counter reject with tcp reset comment "NAT_GATEWAY_IDLE_TIMEOUT"',
            f'  iifname "{eni}" ip saddr {vpc_cidr} ct state new accept',
            '  counter drop comment "NAT_GATEWAY_NO_INBOUND"',
            "}",
            "chain input {",
            "  type filter hook input priority filter; policy accept;",
            "  ct state established,related accept",
            '  ct state new counter drop comment "NAT_GATEWAY_NO_INBOUND"',
            "}",
        ],
    )


def gateway_endpoint(subnets: list[ipaddress.IPv4Network], inside: str, service: str) -> str:
    """Only traffic from the VPC's own subnets may use a gateway endpoint (not peering, VPN, TGW).

    https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html ("Considerations").
    """
    return _table(
        "gateway_endpoint",
        [
            "chain forward {",
            "  type filter hook forward priority filter; policy drop;",
            f'  iifname "{inside}" ip saddr {_set(subnets)} accept',
            f'  iifname "{service}" ct state established,related accept',
            '  counter drop comment "NOT_FROM_VPC_SUBNET"',
            "}",
        ],
    )


SERVICE_PORTS = (80, 443)  # what an AWS service front answers on: HTTP and HTTPS


def interface_endpoint(
    eni: str,
    address: ipaddress.IPv4Address,
    target: ipaddress.IPv4Address,
    ports: Iterable[int] = SERVICE_PORTS,
    closed: str | None = None,
) -> str:
    """Forward `ports` arriving at the ENI's private IP (`address`) to `target` (an AWS service's
    front, or an endpoint service's NLB node), keeping the client's address; any other TCP port
    leads nowhere (the ENI serves only the service), and nothing addressed elsewhere is forwarded (a
    client routing some other address through the ENI reaches no service). `closed`: the drop code
    of an endpoint connection that is not available (pending, rejected): nothing is forwarded, and
    each packet to the ports, or of a connection opened before a rejection, is counted under it.

    Interface endpoints carry TCP only (https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html,
    "Considerations"): a ping or a UDP datagram to the ENI's address gets no answer, neither an echo
    reply nor a port-unreachable, and is counted as INTERFACE_ENDPOINT_TCP_ONLY."""
    ports = list(ports)
    listen = f'iifname "{eni}" ip daddr {address} tcp dport {_set(ports)}' if ports else None
    closing = [f'  iifname "{eni}" meta l4proto tcp counter drop comment "{closed}"'] if closed else []
    return _table(
        "interface_endpoint",
        [
            "chain prerouting {",
            "  type nat hook prerouting priority dstnat; policy accept;",
            *([f"  {listen} dnat ip to {target}"] if listen and not closed else []),
            "}",
            "chain forward {",
            "  type filter hook forward priority filter; policy drop;",
            *closing,  # rejected after it was available: the connections already open through the ENI stop too
            "  ct state established,related accept",
            f'  iifname "{eni}" meta l4proto tcp ct status dnat accept',
            '  counter drop comment "INTERFACE_ENDPOINT_TCP_ONLY"',
            "}",
            "chain input {",
            "  type filter hook input priority filter; policy accept;",
            *([f'  {listen} counter drop comment "{closed}"'] if closed and listen else []),
            f'  iifname "{eni}" meta l4proto tcp counter drop comment "INTERFACE_ENDPOINT_PORT_NOT_SERVED"',
            f'  iifname "{eni}" counter drop comment "INTERFACE_ENDPOINT_TCP_ONLY"',
            "}",
        ],
    )


def service_front(ingresses: list[Ingress]) -> str:
    """Give each ingress its own local ports and mark its connections, so the service knows where
    a request came in and the reply leaves the way the request came (two VPCs may share a CIDR).

    The network decides the ingress, never the client: a local port is reachable only as the
    redirect of port 80 or 443 arriving on its own ingress link. A connection straight to a local
    port, to any other port, or over another link is reset and counted (SERVICE_PORT_CLOSED).
    Both are one map or set lookup per packet, however many ingresses (a 100-VPC lab has 101).
    """
    redirects = [(i.iface, port, local) for i in ingresses for port, local in zip(SERVICE_PORTS, (i.http_port, i.https_port))]
    return _table(
        "service_front",
        [
            "map ingress_redirect {",
            "  type ifname . inet_service : inet_service",
            "  elements = " + _set(f'"{iface}" . {port} : {local}' for iface, port, local in redirects),
            "}",
            "set ingress_ports {",
            "  type ifname . inet_service",
            "  elements = " + _set(f'"{iface}" . {local}' for iface, _, local in redirects),
            "}",
            "chain prerouting_nat {",
            "  type nat hook prerouting priority dstnat; policy accept;",
            "  meta l4proto tcp redirect to : iifname . tcp dport map @ingress_redirect",
            "}",
            "chain input {",
            "  type filter hook input priority filter; policy accept;",
            "  ct status dnat iifname . tcp dport @ingress_ports accept",
            '  meta l4proto tcp counter reject with tcp reset comment "SERVICE_PORT_CLOSED"',
            "}",
            "chain prerouting {",
            "  type filter hook prerouting priority mangle; policy accept;",
            "  ct state new ct mark set iifname map " + _set(f'"{i.iface}" : {i.mark}' for i in ingresses),
            "}",
            "chain output {",
            "  type route hook output priority mangle; policy accept;",
            "  meta mark set ct mark",
            "}",
        ],
    )
