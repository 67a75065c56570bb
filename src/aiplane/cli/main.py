"""Entry point: assembles the command groups; every error becomes one line and a non-zero exit code."""

from __future__ import annotations

import os
import sys

import typer
from rich import markup

from aiplane.cli import admin, audit, audit_writer, deploy, gpu, keys, login, models, plan, predict, serve, sso, tenants, up
from aiplane.cli.output import errors
from aiplane.domain.errors import AiplaneError

app = typer.Typer(help="aiplane: governed, multi-tenant model serving on one machine.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
app.command("up")(up.up)
app.command("gateway-worker", hidden=True)(up.gateway_worker)
app.command("serve-model")(serve.serve_model)
app.command("predict")(predict.predict)
app.command("plan")(plan.plan)
app.command("audit-writer", hidden=True)(audit_writer.audit_writer)
app.add_typer(tenants.app, name="tenant", help="Tenants (teams) and their quotas.")
app.add_typer(keys.app, name="key", help="API keys: create (shown once), list, revoke.")
app.add_typer(models.app, name="model", help="Model registry: register, list, show, quantize, profile.")
app.add_typer(deploy.app, name="deploy", help="Deployments: create, update, scale, list, status, delete.")
app.add_typer(sso.app, name="sso", help="Single sign-on: map identity-provider claims to tenants and roles.")
app.command("login")(login.login)
app.command("logout")(login.logout)
app.add_typer(admin.app, name="admin", help="Offline administration: recover platform-admin access.")
app.add_typer(gpu.app, name="gpu", help="GPU pool: status, MIG layout, offline what-if packing.")
app.add_typer(audit.app, name="audit", help="Audit trail: tail, export, verify (also offline), proofs.")


def main() -> None:
    """Run one command. Whatever goes wrong ends as one line on stderr and a non-zero exit code,
    never a traceback: the user gets what was wrong and what to do (AIPLANE_DEBUG=1 shows the
    traceback of an unexpected error, for a bug report)."""
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # a bad flag or value (exit code 2), as `--help` would explain
        if not exc.format_message().strip():  # a group called without a command: its help is shown
            sys.exit(exc.exit_code)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _fail(f"{exc.format_message()}{hint}", exc.exit_code)
    except typer.Abort:
        _fail("aborted.", 130)
    except AiplaneError as exc:
        _fail(exc.message, 1)
    except OSError as exc:  # a file that cannot be read or written, named by the OS
        where = f" {str(exc.filename)!r}" if exc.filename is not None else ""
        _fail(f"cannot use{where}: {exc.strerror or exc}; check the path and its permissions.", 1)
    except Exception as exc:
        if os.environ.get("AIPLANE_DEBUG"):
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc}; this is a bug in aiplane, please report it "
              "(AIPLANE_DEBUG=1 shows the traceback).", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    # One line, whatever the message holds (a foreign error's text may span several).
    errors.print(f"[red]error:[/red] {markup.escape(' '.join(message.split()))}", highlight=False, soft_wrap=True)
    sys.exit(code)
