"""ROOT: apply a plan to the kernel (Mininet nodes, veth links, pyroute2, nftables), run the
services and captures inside the nodes, and remove exactly what was created."""
