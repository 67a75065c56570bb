"""Entry point: assembles the command groups; every error becomes one line and exit code 1."""

from __future__ import annotations

import sys

import typer

from aiplane.cli import admin, audit, audit_writer, deploy, keys, login, models, plan, predict, serve, sso, tenants, up
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
app.add_typer(audit.app, name="audit", help="Audit trail: tail, export, verify (also offline), proofs.")


def main() -> None:
    try:
        app(standalone_mode=True)
    except AiplaneError as exc:
        errors.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(1)
