"""`aiplane audit ...`: read, export and verify the audit trail."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from aiplane.cli.client import Client
from aiplane.cli.output import Column, Format, console, emit, errors
from aiplane.domain.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)
OUTPUT = typer.Option(Format.table, "--output", "-o", help="table or json.")
TENANT = typer.Option(None, "--tenant", help="Only this tenant's events.")
SINCE = typer.Option(None, "--since", help="From this time: ISO 8601, or a duration back from now (7d, 12h).")
UNTIL = typer.Option(None, "--until", help="Before this time: ISO 8601, or a duration back from now.")
COLUMNS: list[Column] = [("seq", "SEQ"), ("completed_at", "TIME"), ("actor", "ACTOR"), ("action", "ACTION"),
                         ("status", "STATUS"), ("tenant", "TENANT", True), ("decision", "DECISION", True),
                         ("resource", "RESOURCE", True), ("request_id", "REQUEST ID", True)]


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@app.command("tail")
def tail(tenant: str = TENANT, actor: str = typer.Option(None, "--actor", help="Only this key id's events."),
         action: str = typer.Option(None, "--action", help="Only this action, e.g. predict or tenant.create."),
         deployment: str = typer.Option(None, "--deployment", help="Only this deployment's predictions."),
         since: str = SINCE, until: str = UNTIL, limit: int = typer.Option(20, "--limit", help="How many events."),
         output: Format = OUTPUT) -> None:
    """The newest audit events (oldest first), filtered by tenant, actor, action, deployment, time."""
    params = _params(tenant=tenant, actor=actor, action=action, deployment=deployment, since=since, until=until,
                     limit=limit, order="desc")
    events = list(reversed(Client().api("GET", "/audit", params=params)))
    emit(events, output, COLUMNS)


@app.command("export")
def export(tenant: str = TENANT, since: str = SINCE, until: str = UNTIL,
           format: str = typer.Option("jsonl", "--format", help="jsonl (verifiable) or csv (for spreadsheets)."),
           out: Path = typer.Option(None, "--out", help="Write here instead of standard output.")) -> None:
    """Export the audit log. JSON Lines exports carry the whole tree and verify offline."""
    if format not in ("jsonl", "csv"):
        raise InvalidInput(f"--format {format!r} is unknown; use jsonl or csv.")
    params = _params(tenant=tenant, since=since, until=until, format=format)
    client = Client()
    with client.stream("GET", "/api/v1/audit/export", params=params) as chunks:
        target = out.open("wb") if out is not None else sys.stdout.buffer
        try:
            for chunk in chunks:
                target.write(chunk)
        finally:
            if out is not None:
                target.close()
            else:
                target.flush()


@app.command("verify")
def verify(file: Path = typer.Option(None, "--file", help="Verify this export offline, without a server."),
           public_key: Path = typer.Option(None, "--public-key", help="PEM public key to check signatures with."),
           output: Format = OUTPUT) -> None:
    """Recompute the Merkle tree and check every checkpoint signature; exit 1 on any problem."""
    if file is not None:
        from aiplane.control import audit_files  # offline verification needs no server stack otherwise

        report, trusted = audit_files.verify_export(file, public_key)
        doc = report.as_dict()
    else:
        if public_key is not None:
            raise InvalidInput("--public-key applies to --file; the server checks with its own key.")
        doc = Client().api("GET", "/audit/verify")
        trusted = True
    if output is Format.json:
        emit(doc, output)
    elif doc["ok"]:
        console.print(f"OK: {doc['entries']} entries, {doc['checkpoints']} signed checkpoints; "
                      f"{doc['signed_entries']} entries covered by the newest signature.", highlight=False)
        if not trusted:
            console.print("note: checked against the public key inside the export; pass --public-key with the "
                          "platform's key to prove who signed it.", highlight=False)
    if not doc["ok"]:
        where = f" (first bad position: {doc['first_bad_position']})" if doc["first_bad_position"] is not None else ""
        errors.print(f"[red]verification failed:[/red] {doc['problem']}{where}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@app.command("check-consistency")
def check_consistency(file: Path = typer.Option(..., "--file", help="A checkpoint or export you kept earlier."),
                      public_key: Path = typer.Option(None, "--public-key", help="PEM public key to check "
                                                      "signatures with (default: the export's, else the server's)."),
                      output: Format = OUTPUT) -> None:
    """Check that the live log extends a checkpoint you kept (a consistency proof); exit 1 on a cut."""
    from aiplane.control import audit_files
    from aiplane.crypto.signing import Verifier
    from aiplane.domain import checkpoints, consistency

    kept, embedded = audit_files.kept_checkpoint(file)
    client = Client()
    if public_key is not None:
        pem, source = _read_key(public_key), str(public_key)
    elif embedded:
        pem, source = embedded, f"the public key inside {file}"
    else:
        pem, source = client.call("GET", "/api/v1/audit/public-key", raw=True).encode(), "the server's public key"
    verifier = Verifier.from_pem(pem, source)
    newest = client.api("GET", "/audit/checkpoints", params={"latest": "true"})
    if not newest:
        raise InvalidInput("the live server has no signed checkpoint at all: its log was emptied or replaced.")
    live = checkpoints.parse(newest[0]["text"])
    proof: list[bytes] = []
    if kept.size <= live.size:
        doc = client.api("GET", "/audit/consistency", params={"first": kept.size, "second": live.size})
        proof = [bytes.fromhex(p) for p in doc["proof"]]
    wrong = consistency.problem(kept, live, proof, verifier.check)
    result = {"ok": wrong is None, "kept_size": kept.size, "live_size": live.size, "problem": wrong}
    if output is Format.json:
        emit(result, output)
    elif wrong is None:
        console.print(f"OK: the live log ({live.size} entries, signed {live.time}) extends your checkpoint of "
                      f"{kept.size} entries (checked with {source}).", highlight=False, soft_wrap=True)
    if wrong is not None:
        errors.print(f"[red]consistency check failed:[/red] {wrong}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read public key {str(path)!r} ({exc.strerror}); pass a PEM file.") from None


@app.command("public-key")
def public_key() -> None:
    """Print the Ed25519 public key that signs checkpoints (PEM), for offline verification."""
    sys.stdout.write(Client().call("GET", "/api/v1/audit/public-key", raw=True))


@app.command("checkpoint")
def checkpoint(output: Format = OUTPUT) -> None:
    """Sign a checkpoint of the log now (one is signed every second anyway)."""
    doc = Client().api("POST", "/audit/checkpoints")
    emit(doc, output, [("size", "SIZE"), ("root", "ROOT"), ("time", "TIME")])


@app.command("proof")
def proof(audit_id: str, output: Format = OUTPUT) -> None:
    """An inclusion proof of one event in the newest signed checkpoint."""
    doc = Client().api("GET", f"/audit/events/{audit_id}/proof")
    emit(doc, Format.json if output is Format.json else output,
         [("audit_id", "AUDIT ID"), ("seq", "SEQ"), ("tree_size", "TREE SIZE"), ("root", "ROOT")])


@app.command("retention")
def retention(tenant: str, days: int = typer.Option(..., "--days", help="Days to keep the tenant's audit metadata."),
              output: Format = OUTPUT) -> None:
    """Set how long a tenant's audit metadata is kept before `audit prune` drops its content."""
    emit(Client().api("PUT", f"/tenants/{tenant}/audit-retention", json={"days": days}), output)


@app.command("prune")
def prune(output: Format = OUTPUT) -> None:
    """Drop the content of entries past their tenant's retention; leaf hashes stay, the log still verifies."""
    doc = Client().api("POST", "/audit/prune")
    emit([{"tenant": t, "pruned": n} for t, n in doc.items()] if output is Format.table else doc, output)
