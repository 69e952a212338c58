"""Where a fence agent's password comes from: an option, a script, or the environment.

Every secret found is registered with the runner, whose list the log filter shares, so it
is masked in every message from then on.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from hakit.errors import ParamError
from hakit.fence.context import FenceContext
from hakit.fence.options import LOGIN_TIMEOUT, PASSWORD, PASSWORD_ENV, PASSWORD_SCRIPT


def resolve_password(ctx: FenceContext, environ: Mapping[str, str]) -> str:
    """The password: ``password``, else ``password_script``'s first line, else
    ``password_env``'s variable; empty when none is configured."""
    given = ctx.params.get(PASSWORD)
    if given:
        return given
    script = ctx.params.get(PASSWORD_SCRIPT)
    if script:
        try:
            argv = shlex.split(script)
        except ValueError as exc:
            raise ParamError("password_script", f"cannot be split into words: {exc}") from None
        if not argv:
            raise ParamError("password_script", "is empty")
        # No shell (HELPERS rules): the script is a program with arguments, run with a
        # timeout from the action's deadline; its output never reaches a log.
        result = ctx.runner.run(argv, ctx.deadline, timeout=ctx.params[LOGIN_TIMEOUT])
        lines = result.stdout.splitlines()
        password = lines[0].strip() if lines else ""
        if not password:
            raise ParamError("password_script", "printed no password")
        ctx.runner.add_secret(password)
        return password
    variable = ctx.params.get(PASSWORD_ENV)
    if variable:
        password = environ.get(variable, "")
        if not password:
            raise ParamError("password_env", f"names variable {variable} which is not set")
        ctx.runner.add_secret(password)
        return password
    return ""
