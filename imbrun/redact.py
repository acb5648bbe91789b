"""The one redactor: passwords and tokens in URLs (data.url, tracking.mlflow.uri) and error lines become ***.

    redact_url("mysql+pymysql://me:p@ss@db:3306/lab?token=t0k")  -> "mysql+pymysql://me:***@db:3306/lab?token=***"
    redact_text("request to https://me:t0k@host/api failed", uri)  -> "request to https://me:***@host/api failed"

Only what is shown or saved is redacted; the connection itself always uses the URL as written.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

MASK = "***"
# a query parameter whose value is a credential: password=, passwd=, pwd=, token=, access_token=, secret=,
# client_secret=, key=, api_key=, sas_key=, auth=, credential=, signature=, sig=
_SECRET_PARAM = re.compile(r"pass|pwd|token|secret|key|auth|credential|signature|^sig$", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")


def redact_url(url: str) -> str:
    """The URL with the password of its user part and the values of secret-looking query parameters as ***."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    userinfo, at, after = _split_userinfo(rest)
    if ":" in userinfo:
        userinfo = f"{userinfo.split(':', 1)[0]}:{MASK}"
    return f"{scheme}{sep}{userinfo}{at}{_redact_query(after)}"


def url_secrets(url: str) -> list[str]:
    """The secrets written in a URL (the password, secret query values), as written and percent-decoded."""
    _, sep, rest = str(url).partition("://")
    userinfo, _, after = _split_userinfo(rest if sep else str(url))
    found = [userinfo.split(":", 1)[1]] if ":" in userinfo else []
    found += [value for name, value in _query_params(after) if _SECRET_PARAM.search(name)]
    found += [unquote(value) for value in found]
    return sorted({value for value in found if value and value != MASK}, key=len, reverse=True)


def redact_urls_in(value: Any) -> Any:
    """A nested config (dicts, lists) with every string that holds a URL redacted, e.g. for sweep.yaml."""
    if isinstance(value, dict):
        return {key: redact_urls_in(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_urls_in(item) for item in value]
    return redact_url(value) if isinstance(value, str) and "://" in value else value


def redact_text(text: str, *urls: str | None) -> str:
    """An error line with every URL in it redacted, and each secret of `urls` masked wherever else it appears."""
    text = _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), str(text))
    for url in urls:
        for secret in url_secrets(url) if url else []:
            text = text.replace(secret, MASK)
    return text


def _split_userinfo(rest: str) -> tuple[str, str, str]:
    """(userinfo, "@", host and the rest) of the text after "scheme://"; ("", "", rest) without a user part.

    The host follows the LAST '@' of the authority, so an unencoded '@' stays in the password ("me:p@ss@db").
    When the authority (up to the first '/', '?' or '#') has no '@' but a ':' and an '@' follows later, the
    password itself holds an unencoded '/', '?' or '#' (SQLAlchemy reads "me:pa/ss@db" so): mask up to that '@'.
    """
    end = min([i for i in (rest.find(c) for c in "/?#") if i >= 0], default=len(rest))
    at = rest.rfind("@", 0, end)
    if at < 0 and ":" in rest[:end]:
        at = rest.rfind("@")
    return (rest[:at], "@", rest[at + 1:]) if at >= 0 else ("", "", rest)


def _query_params(after: str) -> list[tuple[str, str]]:
    """(name, value) of each query parameter in the text after the host."""
    _, question, query = after.partition("?")
    query = query.split("#", 1)[0]
    pairs = [part.partition("=") for part in re.split(r"[&;]", query)] if question else []
    return [(name, value) for name, eq, value in pairs if eq]


def _redact_query(after: str) -> str:
    """The path, with the value of each secret-looking query parameter as ***."""
    path, question, query = after.partition("?")
    if not question:
        return after

    def mask(match: re.Match) -> str:
        name = match.group(1)
        return f"{name}={MASK}" if _SECRET_PARAM.search(name) else match.group(0)

    return path + question + re.sub(r"([^&;=#]+)=([^&;#]*)", mask, query)
