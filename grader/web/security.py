"""Secret key, proxy handling and the security headers sent with every response."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask, Response, request

SECRET_FILE = "secret_key"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "sync-xhr",
        "usb",
        "xr-spatial-tracking",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def load_secret_key(instance_path: str | os.PathLike[str]) -> str:
    """The key stored under the instance folder, created (mode 0600) on first start.

    Several processes may start at once: the first creates the file, the others read it.
    """
    path = Path(instance_path) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it right now
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.1)
        raise RuntimeError(f"{path} is empty: delete it, or set LOSSGRADER_SECRET_KEY") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


def init_app(app: Flask) -> None:
    """Trust proxies when told to, and add the security headers to every response."""
    proxies = int(app.config.get("BEHIND_PROXY") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies, x_prefix=proxies
        )
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    """Security headers (HSTS over HTTPS or when cookies are Secure); pages are not cached."""
    from flask import current_app

    wanted = list(HEADERS.items())
    if current_app.config.get("HSTS") or request.is_secure:
        wanted.append(("Strict-Transport-Security", HSTS))
    if request.endpoint != "static":
        wanted.append(("Cache-Control", "no-store"))
    # One pass over the response's headers, not one per header (setdefault scans them
    # all each time); a header the view set itself is kept.
    present = {name.lower() for name, _ in response.headers}
    response.headers.extend([(name, value) for name, value in wanted if name.lower() not in present])
    return response
