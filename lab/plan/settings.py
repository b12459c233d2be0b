"""What a plan is built with besides the topology: values AWS fixes, kept here so that a caller
(a test, a teacher who will not wait six minutes) passes other ones to `compile_plan` instead of
patching module constants. The defaults are AWS's; the plan records the settings it was built with.
"""

from __future__ import annotations

from dataclasses import dataclass

# "If a connection that's using a NAT gateway is idle for 350 seconds or more, the connection times
# out" and "any further traffic ... the NAT gateway returns an RST packet"
# (https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html).
NAT_GATEWAY_IDLE_TIMEOUT = 350
# A service front's local ports, two per ingress: above the privileged ports, below the kernel's
# ephemeral ones (net.ipv4.ip_local_port_range starts at 32768), so no client port collides with them.
FRONT_PORTS = range(8000, 32768)


@dataclass(frozen=True)
class Settings:
    nat_gateway_idle_timeout: int = NAT_GATEWAY_IDLE_TIMEOUT  # seconds
    front_ports: range = FRONT_PORTS
