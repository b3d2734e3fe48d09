"""Signing the service account in: `hub teams login` (device code), the token cache file,
and the token given to Graph on each request.

Graph allows channel posting only with a *delegated* token, so one service account (a
normal Microsoft 365 account, member of the crisis team) signs in once; msal keeps its
refresh token in a cache file (permissions 0600) and renews access tokens silently.
`HUB_TEAMS_STATIC_TOKEN`, when set, is used instead (tests, short manual runs).

msal is imported only here, only when needed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.settings import Settings
from hub.teams.gateway import NotSignedIn

if TYPE_CHECKING:
    import msal

# Delegated permissions the app registration needs (admin consent once).
SCOPES = [
    "https://graph.microsoft.com/User.Read",
    "https://graph.microsoft.com/ChannelMessage.Send",
    "https://graph.microsoft.com/ChannelMessage.Read.All",
    "https://graph.microsoft.com/Channel.ReadBasic.All",
    "https://graph.microsoft.com/Calendars.ReadWrite",
]
PERMISSION_NAMES = [scope.rsplit("/", 1)[1] for scope in SCOPES]

_lock = threading.Lock()


def write_private_file(path: Path, text: str) -> None:
    """Write atomically a file only its owner can read (0600 from the start, not chmod after)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)  # in case the file existed with wider permissions
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _authority(settings: Settings) -> str:
    return f"https://login.microsoftonline.com/{settings.teams_tenant_id}"


def _load_cache(settings: Settings) -> msal.SerializableTokenCache:
    import msal

    cache = msal.SerializableTokenCache()
    path = settings.teams_token_cache_path
    if path.exists():
        cache.deserialize(path.read_text(encoding="utf-8"))
    return cache


def _save_cache(settings: Settings, cache: msal.SerializableTokenCache) -> None:
    if cache.has_state_changed:
        write_private_file(settings.teams_token_cache_path, cache.serialize())


def _application(settings: Settings, cache: msal.SerializableTokenCache) -> Any:
    import msal

    return msal.PublicClientApplication(
        settings.teams_client_id, authority=_authority(settings), token_cache=cache
    )


def login(settings: Settings, echo: Callable[[str], None]) -> str:
    """The device-code flow: print the code and address, wait for the person, save the cache.
    Returns the signed-in account's name."""
    if not (settings.teams_tenant_id and settings.teams_client_id):
        raise NotSignedIn("set HUB_TEAMS_TENANT_ID and HUB_TEAMS_CLIENT_ID first")
    cache = _load_cache(settings)
    app = _application(settings, cache)
    flow = app.initiate_device_flow(scopes=SCOPES)
    if "user_code" not in flow:
        raise NotSignedIn(
            "the sign-in could not start: "
            + str(flow.get("error_description") or flow.get("error") or flow)
        )
    echo(flow["message"])
    result = app.acquire_token_by_device_flow(flow)
    if "access_token" not in result:
        raise NotSignedIn(
            "sign-in failed: " + str(result.get("error_description") or result.get("error"))
        )
    _save_cache(settings, cache)
    claims = result.get("id_token_claims") or {}
    return str(claims.get("preferred_username") or claims.get("name") or "the service account")


def token_source(settings: Settings) -> Callable[[], str]:
    """A function giving a valid access token, renewed silently from the cache."""
    if settings.teams_static_token:
        static = settings.teams_static_token
        return lambda: static

    def from_cache() -> str:
        with _lock:
            if not settings.teams_token_cache_path.exists():
                raise NotSignedIn(
                    "nobody is signed in: run `hub teams login` "
                    f"(no token cache at {settings.teams_token_cache_path})"
                )
            cache = _load_cache(settings)
            app = _application(settings, cache)
            accounts = app.get_accounts()
            if not accounts:
                raise NotSignedIn("the token cache holds no account: run `hub teams login`")
            result = app.acquire_token_silent(SCOPES, account=accounts[0])
            _save_cache(settings, cache)
        if not result or "access_token" not in result:
            reason = (result or {}).get("error_description") or "the sign-in has expired"
            raise NotSignedIn(f"{reason}: run `hub teams login` again")
        return str(result["access_token"])

    return from_cache
