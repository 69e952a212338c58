"""The lab's service configured with the ClusterLabs agents, as the benchmarks' anchor.

Same image, VIP, Ceph and BMCs as the hakit stack (``lab.stack``), and the same ids
(NAME-rbd, NAME-fs, NAME-lxc, NAME-vip in group NAME-stack), so that everything measuring
the demo's stack measures this one too:

- ocf:hakit:rbd, exactly the primitive ``hakit-snippet stack`` writes (``device_type=fuse``):
  no ClusterLabs agent maps RBD without the kernel's rbd module, which this kernel lacks;
- ocf:heartbeat:Filesystem (ext4 on ``/dev/hakit/POOL/IMAGE``, the rbd agent's link);
- ocf:heartbeat:lxc (the container's config on the mounted image; LXC's default path);
- ocf:heartbeat:IPaddr2;
- one stonith:fence_ipmilan device per node, against the same BMC user, with the password
  from the same root-only script (``passwd_script``).  fence_ipmilan hands it to ipmitool
  as ``-P PASSWORD``: it is on ipmitool's argv whichever way it is given.  ``cipher=3``:
  without it ipmitool asks ipmi_sim for its cipher suites, which it never answers, and
  every call takes about 14 s (BENCHMARKS.md, fence).

Monitor intervals and timeouts are the hakit snippet's wherever the agent has the same
check: Filesystem has depth 20 (a write test) like ocf:hakit:fs; heartbeat's lxc and
IPaddr2 have only depth 0, so they get the snippet's depth-0 monitor only.
"""

from __future__ import annotations

from ipaddress import IPv4Interface

from hakit.snippets import crm
from hakit.snippets.inputs import Image
from hakit.snippets.model import Config, Group, Item, Location, Primitive, Property
from hakit.snippets.stacks import (
    FENCE_OPS,
    FS_OPS,
    LXC_OPS_NO_HEALTH,
    STACK_META,
    VIP_OPS,
    StackSpec,
    device_path,
    prefer,
    stack_group,
)
from lab import bmc
from lab.layout import LabLayout
from lab.stack import (
    CEPH_CONF,
    CEPH_KEYRING,
    CEPH_USER,
    HEALTH_COMMAND,
    PASSWORD_SCRIPT,
    StackNames,
    bmc_address,
)

#: ipmi_sim answers RMCP+ with cipher suite 3 only when asked for it (see the docstring).
IPMI_CIPHER = "3"


def lab_spec(names: StackNames, shape: str = "group") -> StackSpec:
    """The lab's service as ``lab.stack.stack_snippet_argv`` describes it."""
    return StackSpec(name=names.container, image=Image(names.pool, names.image),
                     ip=IPv4Interface(names.vip), health_command=HEALTH_COMMAND,
                     ceph_user=CEPH_USER, cephconf=CEPH_CONF, keyring=CEPH_KEYRING,
                     shape=shape, device_type="fuse")


def anchor_stack(names: StackNames, preferred: str) -> Config:
    """rbd (hakit) -> Filesystem -> lxc -> IPaddr2 as one group, preferring ``preferred``."""
    spec = lab_spec(names)
    rbd = stack_group(spec).members[0]  # the hakit snippet's own rbd primitive
    directory = f"/var/lib/lxc/{names.container}"
    members = (
        rbd,
        Primitive(f"{names.container}-fs", "ocf:heartbeat:Filesystem",
                  (("device", device_path(spec.image)), ("directory", directory),
                   ("fstype", "ext4")), FS_OPS),
        Primitive(f"{names.container}-lxc", "ocf:heartbeat:lxc",
                  (("container", names.container), ("config", f"{directory}/config")),
                  LXC_OPS_NO_HEALTH),
        Primitive(f"{names.container}-vip", "ocf:heartbeat:IPaddr2",
                  (("ip", str(names.vip.ip)), ("cidr_netmask", str(names.vip.network.prefixlen))),
                  VIP_OPS),
    )
    group = Group(names.group, members, STACK_META,
                  comment=f"container {names.container} with the ClusterLabs agents "
                          "(hakit's rbd for the mapping)")
    return Config(f"ClusterLabs anchor stack for container {names.container}",
                  (group, prefer(names.container, preferred)))


def ipmilan_fencing(layout: LabLayout) -> Config:
    """One fence_ipmilan device per node against its lab BMC, kept off the node it fences."""
    items: list[Item] = []
    for node in layout.nodes:
        device = f"fence-{node.name}"
        items.append(Primitive(
            device, "stonith:fence_ipmilan",
            (("ip", str(bmc_address(layout, node).ip)), ("username", bmc.USERNAME),
             ("passwd_script", PASSWORD_SCRIPT), ("lanplus", "1"),
             ("cipher", IPMI_CIPHER), ("pcmk_host_list", node.name)),
            FENCE_OPS, comment=f"powers {node.name} off through its BMC (ipmitool)"))
        items.append(Location(f"{device}-avoids-{node.name}", device, node.name, "-INFINITY"))
    items.append(Property("stonith-enabled", "true"))
    return Config("ClusterLabs anchor fencing: one fence_ipmilan device per node",
                  tuple(items))


def anchor_stack_text(names: StackNames, preferred: str) -> str:
    """``anchor_stack`` in crmsh syntax (``crm configure load update``)."""
    return crm.render(anchor_stack(names, preferred))


def ipmilan_fencing_text(layout: LabLayout) -> str:
    """``ipmilan_fencing`` in crmsh syntax."""
    return crm.render(ipmilan_fencing(layout))

