"""``hakit-snippet``: print a filled-in Pacemaker configuration (crmsh or pcs).

Bad input (a name, address or node list that does not parse, or options that contradict
each other) prints one clear error and the usage to stderr and returns 2; never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any, Callable, NoReturn, Optional, TextIO, TypeVar

from hakit.errors import HakitError
from hakit.snippets import apply, cephfencing, crm, inputs, pcs, safety, stacks
from hakit.snippets.model import Config

T = TypeVar("T")
PROG = "hakit-snippet"


class _UsageError(Exception):
    """argparse wanted to exit; carries the status (2 for errors, 0 for --help)."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of calling sys.exit (the library never exits)."""

    def exit(self, status: int = 0, message: Optional[str] = None) -> NoReturn:
        raise _UsageError(status, message or "")

    def print_help(self, file: Any = None) -> None:
        """--help: hand the text to run(), which writes it to its own stdout."""
        raise _UsageError(0, self.format_help())

    def error(self, message: str) -> NoReturn:
        raise _UsageError(2, f"{self.format_usage()}{self.prog}: error: {message}\n")


def _typed(parse: Callable[[str], T], what: str) -> Callable[[str], T]:
    """Wrap an inputs.* checker so argparse shows its message (not just 'invalid value')."""

    def convert(raw: str) -> T:
        try:
            return parse(raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    convert.__name__ = what
    return convert


NAME = _typed(inputs.name, "name")
NODES = _typed(inputs.node_list, "nodes")
NODE = _typed(inputs.node, "node")
IMAGE = _typed(inputs.image, "image")
IP = _typed(inputs.interface, "address")
NIC = _typed(inputs.nic, "nic")
PATH = _typed(inputs.absolute_path, "path")
COMMAND = _typed(inputs.command_line, "command")
CEPH_USER = _typed(inputs.ceph_user, "user")
BMC_USER = _typed(inputs.bmc_user, "user")
NODE_ADDRESS = _typed(inputs.node_address, "NODE=ADDRESS")
NODE_ADDRESSES = _typed(inputs.node_addresses, "NODE=ADDRESS[,ADDRESS...]")
NAME_IMAGE = _typed(inputs.name_image, "NAME=POOL/IMAGE")
NAME_NODE = _typed(inputs.name_node, "NAME=NODE")
NAMES = _typed(inputs.name_list, "names")


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("crm", "pcs"), default="crm",
                        help="crmsh syntax (crm configure load update FILE) or a pcs script "
                             "(sh FILE; sh FILE CIBFILE edits a file only); default crm")
    apply.add_arguments(parser)


def _add_container(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nic", type=NIC, help="interface for the address (default: the "
                        "one whose subnet holds it)")
    parser.add_argument("--health", type=COMMAND, metavar="COMMAND",
                        help="the lxc agent's health_command, checked at monitor depth 10, "
                             "e.g. '/usr/bin/curl -fsS http://127.0.0.1/'")
    parser.add_argument("--fstype", default="ext4", choices=("ext4", "xfs"))
    parser.add_argument("--ceph-user", type=CEPH_USER, help="cephx user (rbd user=)")
    parser.add_argument("--cephconf", type=PATH, help="ceph.conf path (rbd cephconf=)")
    parser.add_argument("--keyring", type=PATH, help="keyring path (rbd keyring=)")
    parser.add_argument("--device-type", choices=("krbd", "nbd", "fuse"), default="krbd",
                        help="how ocf:hakit:rbd maps the image (rbd device_type=; default "
                             "krbd; fuse where the kernel has no rbd/nbd module)")
    parser.add_argument("--shape", choices=("group", "composite"), default="group",
                        help="group: rbd, fs, lxc (and vip) primitives in a group; composite: "
                             "one ocf:hakit:container resource (ext4 only); default group")


def _add_ceph_fencing(parser: argparse.ArgumentParser) -> None:
    """fence_hakit_ceph as the level after the BMC, or alone (``fencing``)."""
    parser.add_argument("--ceph", type=NODE_ADDRESSES, action="append", default=[],
                        metavar="NODE=ADDRESS[,ADDRESS...]",
                        help="a node's addresses on the Ceph public network: fence it by the "
                             "Ceph blocklist when its BMC cannot (the last fencing level), or "
                             "alone without --bmc (repeat for every node)")
    parser.add_argument("--ceph-fence-user", type=CEPH_USER, default="fence",
                        help="cephx user of fence_hakit_ceph (default fence; mon caps 'allow "
                             "r, allow command \"osd blocklist\"', osd caps 'allow r')")
    parser.add_argument("--ceph-fence-keyring", type=PATH,
                        default="/etc/ceph/ceph.client.fence.keyring",
                        help="its keyring (default /etc/ceph/ceph.client.fence.keyring)")
    parser.add_argument("--ceph-fence-conf", type=PATH, default="/etc/ceph/ceph.conf",
                        help="ceph.conf for fence_hakit_ceph (default /etc/ceph/ceph.conf)")


def _add_unfencing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requires-unfencing", action="store_true",
                        help="meta requires=unfencing: start only on a node unfenced by "
                             "fence_hakit_ceph (use with fencing --ceph)")


def _ceph_fencing(parser: _Parser, args: argparse.Namespace) -> Config:
    """``fencing --ceph ...``: every node needs Ceph addresses, and a BMC unless none has one."""
    ceph_nodes = [n for n, _ in args.ceph]
    if len(set(ceph_nodes)) != len(ceph_nodes):
        parser.error("argument --ceph: a node is given twice")
    if len(ceph_nodes) < 2:
        parser.error("argument --ceph: give every node (at least two)")
    owners: dict[str, str] = {}
    for node, addresses in args.ceph:
        for address in addresses:
            other = owners.setdefault(str(address), node)
            if other != node:
                parser.error(f"argument --ceph: {address} is given for both {other!r} and "
                             f"{node!r}")
    bmc_nodes = [n for n, _ in args.bmc]
    if len(set(bmc_nodes)) != len(bmc_nodes):
        parser.error("argument --bmc: a node is given twice")
    if bmc_nodes and sorted(bmc_nodes) != sorted(ceph_nodes):
        parser.error("argument --ceph: give the same nodes as --bmc")
    unknown = [n for n, _ in args.redfish if n not in bmc_nodes]
    if unknown:
        parser.error(f"argument --redfish: {unknown[0]!r} has no --bmc")
    ceph = cephfencing.CephFencing(tuple(args.ceph), args.ceph_fence_user, args.ceph_fence_conf,
                              args.ceph_fence_keyring)
    return cephfencing.fencing_with_ceph(tuple(args.bmc), args.username, args.password_script,
                                    tuple(args.redfish), ceph)


def _parser() -> _Parser:
    parser = _Parser(prog=PROG, description="Print a filled-in Pacemaker configuration for "
                     "hakit: load it with crmsh or run it as a pcs script.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("stack", help="one container: rbd -> fs -> lxc -> vip, as a group (or "
                       "one composite resource)")
    p.add_argument("--name", type=NAME, required=True, help="container name (LXC name)")
    p.add_argument("--image", type=IMAGE, required=True, help="RBD image, POOL/IMAGE")
    p.add_argument("--ip", type=IP, help="service address with prefix, e.g. 198.18.0.10/24 "
                   "(omit for a stack without an address)")
    p.add_argument("--nodes", type=NODES, required=True, help="cluster nodes, comma-separated")
    p.add_argument("--prefer", type=NODE, help="preferred node (default: the first of --nodes)")
    _add_container(p)
    _add_unfencing(p)
    _add_format(p)

    p = sub.add_parser("fencing", help="one fence_hakit device per node, stonith-enabled")
    p.add_argument("--bmc", type=NODE_ADDRESS, action="append", default=[],
                   metavar="NODE=ADDRESS", help="a node and its BMC's IPMI address (repeat "
                   "for every node; may be left out with --ceph)")
    p.add_argument("--redfish", type=NODE_ADDRESS, action="append", default=[],
                   metavar="NODE=ADDRESS", help="a second way to fence NODE (fencing "
                   "topology: IPMI first, then Redfish)")
    p.add_argument("--username", type=BMC_USER, default="hakit",
                   help="BMC user (default hakit)")
    p.add_argument("--password-script", type=PATH, default="/etc/hakit/bmc-password",
                   help="a root-only script printing the BMC password (default "
                        "/etc/hakit/bmc-password); the password never enters the CIB")
    _add_ceph_fencing(p)
    _add_format(p)

    p = sub.add_parser("placement", help="preferred nodes, anti-affinity, spreading")
    p.add_argument("--nodes", type=NODES, required=True, help="cluster nodes, comma-separated")
    p.add_argument("--prefer", type=NAME_NODE, action="append", default=[],
                   metavar="NAME=NODE", help="run container NAME on NODE when it can")
    p.add_argument("--apart", type=NAMES, action="append", default=[], metavar="A,B",
                   help="containers A and B never share a node")
    p.add_argument("--spread", type=NAMES, metavar="A,B,C",
                   help="prefer each container on the next node, round-robin")
    _add_format(p)

    p = sub.add_parser("cluster", help="cluster options for many containers (Pacemaker's "
                       "load throttling)")
    _add_format(p)

    p = sub.add_parser("lb", help="two load-balancer containers, one VIP that follows a "
                       "running one")
    p.add_argument("--name", type=NAME, required=True, help="prefix of the VIP's id")
    p.add_argument("--ip", type=IP, required=True, help="service address with prefix")
    p.add_argument("--backend", type=NAME_IMAGE, action="append", required=True,
                   metavar="NAME=POOL/IMAGE", help="a balancer container (give two)")
    p.add_argument("--nodes", type=NODES, required=True, help="cluster nodes, comma-separated")
    _add_container(p)
    _add_format(p)

    p = sub.add_parser("lvs", help="an LVS director pair (ocf:hakit:lvs promotable clone) "
                       "and its VIP, with fencing")
    p.add_argument("--name", type=NAME, required=True, help="prefix of the ids (NAME-lvs, "
                   "NAME-lvs-clone, NAME-vip)")
    p.add_argument("--ip", type=IP, required=True, help="the virtual IP with prefix")
    p.add_argument("--nic", type=NIC, help="interface for the VIP (default: the one whose "
                   "subnet holds it)")
    p.add_argument("--directors", type=NODES, required=True,
                   help="the two director nodes, comma-separated")
    p.add_argument("--avoid", type=NODES, help="other cluster nodes that must never run a "
                   "director, comma-separated")
    p.add_argument("--sync-interface", type=NIC, required=True,
                   help="the interface the sync daemons multicast on")
    p.add_argument("--syncid", type=int, default=1, help="sync id, 0-255 (default 1)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--services", help="the service definition (docs/agents/lvs.md), "
                        "directives separated by ';'")
    source.add_argument("--config-file", type=PATH, help="a service definition file, the "
                        "same on both directors")
    p.add_argument("--bmc", type=NODE_ADDRESS, action="append", default=[],
                   metavar="NODE=ADDRESS", help="fence the directors through their BMCs "
                   "(both; omit when the fencing snippet is loaded already)")
    p.add_argument("--username", default="hakit", help="BMC user (default hakit)")
    p.add_argument("--password-script", type=PATH, default="/etc/hakit/bmc-password",
                   help="root-only script printing the BMC password")
    _add_format(p)
    return parser


def _stack_spec(args: argparse.Namespace, name: str, image: inputs.Image,
                ip: Optional[inputs.IPInterface]) -> stacks.StackSpec:
    return stacks.StackSpec(name=name, image=image, ip=ip, nic=args.nic,
                            health_command=args.health, fstype=args.fstype,
                            ceph_user=args.ceph_user, cephconf=args.cephconf,
                            keyring=args.keyring, shape=args.shape,
                            device_type=args.device_type)


def _build(parser: _Parser, args: argparse.Namespace) -> Config:
    """The configuration the arguments ask for; cross-argument errors go to parser.error."""
    if getattr(args, "shape", "group") == "composite" and args.fstype != "ext4":
        parser.error("argument --fstype: --shape composite mounts ext4 only")
    if args.command == "stack":
        preferred = args.prefer or args.nodes[0]
        if preferred not in args.nodes:
            parser.error(f"argument --prefer: {preferred!r} is not one of --nodes")
        spec = _stack_spec(args, args.name, args.image, args.ip)
        if args.requires_unfencing:
            spec = dataclasses.replace(spec, extra_meta=cephfencing.REQUIRES_UNFENCING)
        return stacks.stack(spec, preferred)
    if args.command == "fencing" and args.ceph:
        return _ceph_fencing(parser, args)
    if args.command == "fencing":
        bmcs = tuple(args.bmc)
        nodes = [n for n, _ in bmcs]
        if len(set(nodes)) != len(nodes):
            parser.error("argument --bmc: a node is given twice")
        if len(nodes) < 2:
            parser.error("argument --bmc: give every node (at least two)")
        unknown = [n for n, _ in args.redfish if n not in nodes]
        if unknown:
            parser.error(f"argument --redfish: {unknown[0]!r} has no --bmc")
        return stacks.fencing(bmcs, args.username, args.password_script, tuple(args.redfish))
    if args.command in ("placement", "cluster"):
        return (_placement(parser, args) if args.command == "placement"
                else stacks.cluster_options())
    if args.command == "lvs":
        return _lvs(parser, args)
    return _load_balancer(parser, args)


def _lvs(parser: _Parser, args: argparse.Namespace) -> Config:
    from hakit.steps.lvs import definition  # only this command checks a definition

    if len(args.directors) != 2:
        parser.error("argument --directors: give exactly two director nodes")
    overlap = set(args.avoid or ()) & set(args.directors)
    if overlap:
        parser.error(f"argument --avoid: {sorted(overlap)[0]!r} is a director")
    if not 0 <= args.syncid <= 255:
        parser.error("argument --syncid: must be from 0 to 255")
    if args.services is not None:
        try:
            definition.parse(args.services)
        except definition.ConfigSyntaxError as exc:
            parser.error(f"argument --services: {exc}")
    spec = stacks.LvsSpec(args.name, args.ip, args.nic, args.sync_interface, args.syncid,
                          args.services, args.config_file,
                          (args.directors[0], args.directors[1]), tuple(args.avoid or ()))
    config = stacks.lvs(spec)
    if not args.bmc:
        return Config(config.title, config.items, (
            *config.notes, "Fencing: load `hakit-snippet fencing` for every node first."))
    nodes = [n for n, _ in args.bmc]
    if sorted(nodes) != sorted(args.directors):
        parser.error("argument --bmc: give both directors (and only them)")
    fencing = stacks.fencing(tuple(args.bmc), args.username, args.password_script, ())
    return Config(config.title, fencing.items + config.items, config.notes)


def _placement(parser: _Parser, args: argparse.Namespace) -> Config:
    for name, node in args.prefer:
        if node not in args.nodes:
            parser.error(f"argument --prefer: {node!r} (for {name}) is not one of --nodes")
    pairs = []
    for names in args.apart:
        if len(names) != 2:
            parser.error("argument --apart: give exactly two names, A,B")
        pairs.append((names[0], names[1]))
    if not (args.prefer or pairs or args.spread):
        parser.error("give at least one of --prefer, --apart, --spread")
    return stacks.placement(args.nodes, tuple(args.prefer), tuple(pairs),
                            tuple(args.spread or ()))


def _load_balancer(parser: _Parser, args: argparse.Namespace) -> Config:
    if len(args.backend) != 2:
        parser.error("argument --backend: give exactly two balancer containers")
    if args.backend[0][0] == args.backend[1][0]:
        parser.error("argument --backend: the two containers need different names")
    if len(args.nodes) < 2:
        parser.error("argument --nodes: two balancers need at least two nodes")
    specs = tuple(_stack_spec(args, name, image, None) for name, image in args.backend)
    return stacks.load_balancer(args.name, args.ip, args.nic, (specs[0], specs[1]),
                                args.nodes)


def run(argv: Sequence[str], out: TextIO, err: TextIO,
        answers: Optional[TextIO] = None) -> int:
    """Parse ``argv`` (without the program name), print the configuration (or apply it:
    ``answers`` holds the admin's replies, default stdin); return 0, 1 (apply refused) or
    2 (usage)."""
    parser = _parser()
    try:
        for word in argv:
            # Python 3.11's argparse turns "--opt=--" into an empty list instead of the
            # value "--" (or an error), which would reach the generator as a list.
            option, equals, value = word.partition("=")
            if option.startswith("--") and equals and value == "--":
                parser.error(f"argument {option}: '--' is not a value")
        args = parser.parse_args(list(argv))
        if args.yes and not (args.apply or args.dry_run):
            parser.error("argument --yes: only with --apply")
        config = _build(parser, args)
        try:
            # Every value against the grammar of where it lands, and every parameter
            # against the agent that reads it (hakit.snippets.safety).
            safety.check(config)
        except ValueError as exc:
            parser.error(str(exc))
    except _UsageError as exc:
        (err if exc.status else out).write(exc.message)
        return exc.status
    wanted = apply.options(args)
    if wanted is not None:
        try:
            apply.Applier(config, wanted, out, apply.asker(answers or sys.stdin, err)).run()
        except HakitError as exc:
            err.write(f"{PROG}: {exc.reason}\n")
            return 1
        return 0
    if args.format == "crm":
        out.write(crm.render(config, _crm_header(argv)))
    else:
        out.write(pcs.render(config, f"generated by: {PROG} " + shlex.join(argv)))
    return 0


def _crm_header(argv: Sequence[str]) -> str:
    """The command line without '--' (crmsh keeps comments as XML comments)."""
    words = []
    for word in argv:
        if word.startswith("--"):
            option, sep, value = word[2:].partition("=")
            words.append(f"{option}={shlex.quote(value)}" if sep else f"{option}=")
        elif words and words[-1].endswith("="):
            words[-1] += shlex.quote(word)
        else:
            words.append(word)
    return (f"generated by: {PROG} " + " ".join(words)
            + "")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The console entry point."""
    try:
        status = run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`hakit-snippet ... | head`): stop quietly. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again (Python docs,
        # "Note on SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status
