"""`aiplane login` and `aiplane logout`: sign in at your identity provider, keep the tokens."""

from __future__ import annotations

import os

import typer

from aiplane.cli import credentials, oauth
from aiplane.domain.errors import InvalidInput

_SCOPE = "openid profile email offline_access"


def _say(line: str) -> None:
    print(line, flush=True)  # plain, unwrapped: the URL must survive copy and paste


def login(
    issuer: str = typer.Option(None, "--issuer", help="The identity provider's issuer URL [AIPLANE_OIDC_ISSUER]."),
    client_id: str = typer.Option(None, "--client-id", help="The OAuth client registered for the CLI "
                                  "[AIPLANE_OIDC_CLIENT_ID]."),
    scope: str = typer.Option(_SCOPE, "--scope", help="Scopes to ask for."),
    audience: str = typer.Option(None, "--audience", help="Resource (RFC 8707) the access token is for, when "
                                 "the provider needs it named."),
    browser: bool = typer.Option(False, "--browser", help="Sign in with a browser on this machine (authorization "
                                 "code + PKCE on a loopback redirect) instead of the device code."),
    no_open: bool = typer.Option(False, "--no-open", help="With --browser: print the URL, do not open a browser."),
    client_secret_env: str = typer.Option(None, "--client-secret-env", help="A service account: name the "
                                          "environment variable holding the client secret (client-credentials "
                                          "grant; the secret is never written down)."),
) -> None:
    """Sign in (device code, or browser with --browser); later commands send the token."""
    issuer = issuer or os.environ.get("AIPLANE_OIDC_ISSUER", "")
    client_id = client_id or os.environ.get("AIPLANE_OIDC_CLIENT_ID", "")
    if not issuer or not client_id:
        raise InvalidInput("aiplane login needs --issuer URL and --client-id ID (or AIPLANE_OIDC_ISSUER and "
                           "AIPLANE_OIDC_CLIENT_ID); ask your platform team for them.")
    doc = oauth.discover(issuer)
    extra = {"resource": audience} if audience else {}
    if client_secret_env:
        secret = os.environ.get(client_secret_env)
        if not secret:
            raise InvalidInput(f"environment variable {client_secret_env} holds no client secret; set it first.")
        scopes = None if scope == _SCOPE else scope
        tokens, grant = oauth.client_credentials(doc, client_id, secret, scopes, extra), "client_credentials"
    elif browser or "device_authorization_endpoint" not in doc:
        tokens, grant = oauth.code_grant(doc, client_id, scope, extra, _say, not no_open), "authorization_code"
    else:
        tokens, grant = oauth.device_grant(doc, client_id, scope, extra, _say), "device_code"
    path = credentials.save(credentials.record(issuer, client_id, doc["token_endpoint"], grant, tokens))
    refreshable = "refreshed automatically" if tokens.get("refresh_token") else "run 'aiplane login' when it expires"
    _say(f"Signed in at {issuer}; the token is kept in {path} (0600, {refreshable}).")
    if os.environ.get("AIPLANE_TOKEN"):
        _say("Note: AIPLANE_TOKEN is set and is sent instead; unset it to use this sign-in.")


def logout() -> None:
    """Forget the kept sign-in (tokens are deleted from this machine)."""
    _say("Signed out." if credentials.forget() else "There was no sign-in to forget.")
