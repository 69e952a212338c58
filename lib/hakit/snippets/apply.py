"""``hakit-snippet ... --apply``: put a generated configuration into the live cluster, safely.

The steps an admin would take by hand with pcs, in order, stopping at the first that fails:

1. ``pcs cluster cib ORIGINAL``: the live CIB into a file (kept, to diff against), copied to
   NEW;
2. each generated ``pcs -f NEW ...`` call;
3. ``crm_verify --xml-file NEW``: a result that does not verify is refused with the
   verifier's message, and nothing is pushed;
4. what ``crm_simulate`` says the cluster would then do (which resources start, stop or
   move), and the difference between ORIGINAL and NEW;
5. stop here with ``--dry-run``; otherwise ask (``--yes`` answers for the admin);
6. the live configuration's version again: when another change landed since step 1 (its
   ``admin_epoch``/``epoch`` moved), refuse: NEW was checked against a configuration that
   no longer exists;
7. ``pcs cluster cib-push NEW diff-against=ORIGINAL``: only the difference (the status
   section is the same in both files, so the patch holds configuration changes only).

Every program runs through ``hakit.os.runner`` (argv lists, timeouts); failures are raised as
``ApplyRefused`` for the CLI to print (the one place that turns them into an exit status).
"""

from __future__ import annotations

import argparse
import difflib
import logging
import shutil
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from hakit.deadline import Deadline
from hakit.errors import GenericError, HakitError
from hakit.os.runner import Completed, Runner
from hakit.snippets import pcs
from hakit.snippets.model import Config

#: Seconds for one pcs or Pacemaker tool call (pcs itself takes about 0.5 s to start).
STEP_TIMEOUT = 60.0
#: How the difference is labelled (the diff's file names).
LIVE_LABEL, NEW_LABEL = "live CIB", "after hakit-snippet"


class ApplyRefused(GenericError):
    """Nothing was pushed: the reason says which step stopped the apply and why."""


@dataclass(frozen=True)
class ApplyOptions:
    """What the command line asked for."""

    yes: bool = False  # push without asking
    dry_run: bool = False  # stop before pushing


@dataclass(frozen=True)
class Version:
    """The configuration's version: Pacemaker bumps ``epoch`` on every configuration change
    (``num_updates``, bumped by status updates, is deliberately left out)."""

    admin_epoch: int
    epoch: int

    def __str__(self) -> str:
        return f"{self.admin_epoch}:{self.epoch}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--apply, --yes and --dry-run, on every configuration command."""
    parser.add_argument("--apply", action="store_true",
                        help="apply to the live cluster with pcs (whatever --format): edit a "
                             "copy of the CIB, "
                             "check it with crm_verify, show crm_simulate's summary and the "
                             "difference, ask, then push only the difference")
    parser.add_argument("--yes", action="store_true",
                        help="with --apply: push without asking")
    parser.add_argument("--dry-run", action="store_true",
                        help="--apply up to the push, which is left out")


def options(args: argparse.Namespace) -> ApplyOptions | None:
    """The apply the arguments ask for, or None to print the configuration."""
    if not (args.apply or args.dry_run):
        return None
    return ApplyOptions(yes=args.yes, dry_run=args.dry_run)


def asker(answers: TextIO, prompt_to: TextIO) -> Callable[[str], bool]:
    """Ask on ``prompt_to`` and read one line of ``answers``: y or yes is yes."""

    def ask(question: str) -> bool:
        prompt_to.write(f"{question} [y/N] ")
        prompt_to.flush()
        return answers.readline().strip().lower() in ("y", "yes")

    return ask


def cib_version(xml: str) -> Version:
    """The version in a CIB document's root element."""
    try:
        root = ET.fromstring(xml)  # noqa: S314 - the cluster's own CIB
        return Version(int(root.get("admin_epoch", "0")), int(root.get("epoch", "0")))
    except (ET.ParseError, ValueError) as exc:
        raise ApplyRefused(f"cannot read the CIB's version: {exc}") from exc


def transition_summary(xml: str) -> list[str]:
    """crm_simulate's ``<actions>`` (its transition summary) as one line per action."""
    try:
        root = ET.fromstring(xml)  # noqa: S314 - crm_simulate's own output
    except ET.ParseError as exc:
        raise ApplyRefused(f"cannot read crm_simulate's output: {exc}") from exc
    lines = []
    for action in root.iterfind("actions/*"):
        attrs = dict(action.attrib)
        words = [attrs.pop("action", action.tag), attrs.pop("resource", "")]
        if "source" in attrs and "dest" in attrs:
            words += ["from", attrs.pop("source"), "to", attrs.pop("dest")]
        elif "node" in attrs:
            words += ["on", attrs.pop("node")]
        words += [f"{key}={value}" for key, value in sorted(attrs.items())]
        lines.append(" ".join(w for w in words if w))
    return lines


def cib_diff(original: str, new: str) -> list[str]:
    """A unified diff of two CIB files (the root element's line shows the epoch moving)."""
    diff = difflib.unified_diff(original.splitlines(), new.splitlines(), LIVE_LABEL,
                                NEW_LABEL, n=1, lineterm="")
    return list(diff)


class Applier:
    """One apply: a private directory for the CIB files, the runner, the output streams."""

    def __init__(self, config: Config, options: ApplyOptions, out: TextIO,
                 ask: Callable[[str], bool], runner: Runner | None = None) -> None:
        """``ask(question)`` returns the admin's answer (used unless ``options.yes``)."""
        self._config = config
        self._options = options
        self._out = out
        self._ask = ask
        self._runner = runner or Runner(logging.getLogger("hakit.snippets.apply"))

    def _run(self, argv: list[str], *, check: bool = True) -> Completed:
        return self._runner.run(argv, Deadline(STEP_TIMEOUT), check=check)

    def _say(self, text: str = "") -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def run(self) -> None:
        """Apply the configuration, or raise ApplyRefused (nothing pushed then)."""
        for program in ("pcs", "crm_verify", "crm_simulate", "cibadmin"):
            if self._runner.which(program) is None:
                raise ApplyRefused(f"--apply needs {program} (packages pcs and "
                                   "pacemaker-cli-utils)")
        work = Path(tempfile.mkdtemp(prefix="hakit-apply-"))  # mode 0700: the CIB may
        try:  # hold secrets of other resources
            self._apply(work / "cib-live.xml", work / "cib-new.xml")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _apply(self, original: Path, new: Path) -> None:
        self._run(["pcs", "cluster", "cib", str(original)])
        read_version = cib_version(original.read_text())
        shutil.copyfile(original, new)
        self._say(f"Read the live CIB (configuration version {read_version}).")

        for command in pcs.commands(self._config):
            result = self._run(["pcs", "-f", str(new), *command.words], check=False)
            if not result.ok and not command.may_fail:
                raise ApplyRefused(
                    f"'pcs {' '.join(command.words)}' failed, nothing was pushed:\n"
                    + (result.stderr or result.stdout).strip())

        verified = self._run(["crm_verify", "--xml-file", str(new), "-V"], check=False)
        findings = (verified.stdout + verified.stderr).strip()
        if not verified.ok:
            raise ApplyRefused("the result does not verify, nothing was pushed:\n"
                               + (findings or f"crm_verify exited {verified.returncode}"))
        if findings:
            self._say("crm_verify warns:\n" + findings)

        simulated = self._run(["crm_simulate", "--xml-file", str(new), "--simulate",
                               "--output-as=xml"])
        summary = transition_summary(simulated.stdout)
        self._say("The cluster would then:" if summary else
                  "The cluster would start, stop or move nothing.")
        for line in summary:
            self._say(f"  {line}")
        diff = cib_diff(original.read_text(), new.read_text())
        self._say("Changes to the CIB:")
        for line in diff:
            self._say(line)

        if self._options.dry_run:
            self._say("--dry-run: nothing was pushed.")
            return
        if not self._options.yes and not self._ask("Push these changes to the cluster?"):
            raise ApplyRefused("not confirmed, nothing was pushed")
        self._push(original, new, read_version)

    def _push(self, original: Path, new: Path, read_version: Version) -> None:
        live = cib_version(self._run(["cibadmin", "--query"]).stdout)
        if live != read_version:
            raise ApplyRefused(
                f"the cluster's configuration changed while this ran (version "
                f"{read_version} when read, {live} now): nothing was pushed; run "
                "hakit-snippet --apply again to check the new configuration")
        try:
            # The patch (crm_diff of the two files) touches only what the pcs calls
            # changed; pcs refuses --config together with diff-against, and needs neither.
            self._run(["pcs", "cluster", "cib-push", str(new), f"diff-against={original}"])
        except HakitError as exc:
            raise ApplyRefused(f"pushing failed: {exc.reason}") from exc
        self._say("Pushed.")
