"""Address decisions, all deterministic: the same topology always gets the same addresses.

- Instances take the lowest free address of their subnet from base+4 up; AWS-managed ENIs (NAT
  gateways, interface endpoints) the highest free one from the last usable address down, so adding
  an instance never moves a gateway and vice versa. AWS reserves base+0..+3 and the last address
  (https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html).
- Public and Elastic IPs come from the region's EC2 ranges (lab.model.regions), at a position
  derived from the owner's name, so they look like AWS's and stay put when the topology grows.
- Links between gateways ("transit" links, which AWS does not show) use /30s from 169.254.0.0/17:
  link-local space that AWS forbids as a VPC CIDR, so it can never collide with a VPC.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator

from lab.errors import PlanError, Problem, TopologyError
from lab.model.topology import Subnet

Addr = ipaddress.IPv4Address
Net = ipaddress.IPv4Network
TRANSIT_POOL = ipaddress.IPv4Network("169.254.0.0/17")
RESOLVER_LINK_LOCAL = ipaddress.IPv4Address("169.254.169.253")  # AmazonProvidedDNS, every VPC


class SubnetAllocator:
    """Hands out one subnet's addresses; explicit ones must be claimed before automatic ones."""

    def __init__(self, subnet: Subnet, file: str):
        self.subnet, self.file = subnet, file
        self.taken: set[Addr] = set()

    def claim(self, address: Addr) -> Addr:
        self.taken.add(address)
        return address

    def take(self, owner: str, line: int, from_top: bool = False) -> Addr:
        net = self.subnet.cidr
        hosts = (
            range(int(net.broadcast_address) - 1, int(net.network_address) + 3, -1)
            if from_top
            else range(int(net.network_address) + 4, int(net.broadcast_address))
        )
        for value in hosts:
            if Addr(value) not in self.taken:
                return self.claim(Addr(value))
        raise TopologyError(
            [
                Problem(
                    self.file,
                    line,
                    f"{owner}: subnet {self.subnet.name} {net} has no free address left",
                    "InsufficientFreeAddressesInSubnet",
                )
            ]
        )


class PublicIpPool:
    """Public IPv4 addresses from the region's EC2 ranges, placed by a hash of the owner's name."""

    def __init__(self, ranges: tuple[Net, ...]):
        self.ranges = ranges
        self.taken: set[ipaddress.IPv4Address] = set()

    def take(self, *owner: str) -> Addr:
        size = sum(r.num_addresses for r in self.ranges)
        start = int.from_bytes(hashlib.sha256("/".join(owner).encode()).digest()[:4], "big")
        for step in range(size):
            address = self._nth((start + step) % size)
            if address not in self.taken and address.packed[-1] not in (0, 255):
                self.taken.add(address)
                return address
        # No line to point at: the file as a whole asks for more than the region has.
        raise PlanError(f"{'/'.join(owner)}: no public IPv4 address left in the region's EC2 ranges (AddressLimitExceeded)")

    def _nth(self, index: int) -> Addr:
        for net in self.ranges:
            if index < net.num_addresses:
                return net.network_address + index
            index -= net.num_addresses
        raise AssertionError("index beyond the pool")


def transit_links() -> Iterator[tuple[ipaddress.IPv4Interface, ipaddress.IPv4Interface]]:
    """Successive /30s: (first host, second host) of each."""
    for net in TRANSIT_POOL.subnets(new_prefix=30):
        a, b = list(net.hosts())
        yield ipaddress.IPv4Interface(f"{a}/30"), ipaddress.IPv4Interface(f"{b}/30")


def mac_for(*owner: str) -> str:
    """A stable, locally administered MAC (02:...), so captures of two runs line up."""
    digest = hashlib.sha256("/".join(owner).encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])
