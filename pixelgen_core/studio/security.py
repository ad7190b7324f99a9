"""Who may drive the studio: only pages it served itself, on this machine.

Three checks on every request, so that neither another machine nor another web page the
user has open can use the server:

- the `Host` header names the loopback address the server listens on (a page on another
  site cannot reach it through a DNS name that it points at 127.0.0.1: rebinding);
- an `Origin` header, which browsers send with every cross-site request and every POST,
  is the studio's own;
- a browser's `Sec-Fetch-Site` header, where sent, says the request comes from the
  studio's own page or from the address bar, not from a page of another site or port
  (an image or script tag elsewhere sends no Origin);
- the request carries the per-launch token: the `token` of the URL the command printed
  (as Jupyter's), which the page keeps in a cookie that browsers send only to the studio
  itself (SameSite=Strict), or an `X-Pixelgen-Token` header for other tools.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets

from pixelgen_core.errors import PixelgenError

COOKIE = "pixelgen_studio"
HEADER = "x-pixelgen-token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def check_host(host: str) -> str:
    """The address to bind: a loopback one only, since the studio drives this machine."""
    name = "127.0.0.1" if host == "localhost" else host.strip("[]")
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise PixelgenError(
            f"--host {host}: the studio serves this machine only; give a loopback address "
            "(127.0.0.1 or ::1)"
        )
    return name


def allowed_hosts(host: str, port: int) -> set[str]:
    """`Host` header values that name this server."""
    names = {"127.0.0.1", "localhost"} if host.startswith("127.") else {f"[{host}]", "localhost"}
    names.add(host if ":" not in host else f"[{host}]")
    return {f"{name}:{port}" for name in names}


def same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def refusal(headers, query: dict, cookies: dict, token: str, hosts: set[str]) -> str | None:
    """Why a request is refused (None: let it through)."""
    if headers.get("host", "") not in hosts:
        return "wrong Host header: open the address that `pixelgen studio` printed"
    origin = headers.get("origin")
    if origin is not None and origin.removeprefix("http://") not in hosts:
        return f"requests from {origin} are not allowed"
    if headers.get("sec-fetch-site", "none") not in ("same-origin", "none"):
        return "requests from other pages are not allowed"
    if not any(
        same(v, token) for v in (query.get("token"), cookies.get(COOKIE), headers.get(HEADER))
    ):
        return "missing or wrong token: open the address that `pixelgen studio` printed"
    return None
