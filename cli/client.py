"""A small client of the management REST API of the configured instance."""

from __future__ import annotations

from typing import Any

import click
import httpx

from cli.credentials import TOKEN_ENV, load_token
from registry.config import Settings


class ApiError(click.ClickException):
    """The API refused the request or could not be reached: one clear line, exit 1."""


def base_url(settings: Settings) -> str:
    http = settings.docker_registry.http
    host, _, port = http.addr.rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # the wildcard bind is reached through loopback
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if http.tls.certificate else "http"
    return f"{scheme}://{host}:{port}"


class ApiClient:
    def __init__(
        self, url: str, timeout: float = 30.0, token: str | None = None, auth: Any = None
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers, auth=auth)

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiClient:
        """Authenticated with $HTH_TOKEN or the token file (cli/credentials.py), if any."""
        return cls(base_url(settings), token=load_token())

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the API at {self.url}: {exc} (is it running?)") from None
        if response.status_code == 401:
            hint = f"set {TOKEN_ENV} or run `hth-ctl login`"
            raise ApiError(f"{method} {path}: 401 {_detail(response)}; {hint}")
        if response.status_code >= 400:
            raise ApiError(f"{method} {path}: {response.status_code} {_detail(response)}")
        return response

    def get(self, path: str, **params: Any) -> Any:
        query = {key: value for key, value in params.items() if value is not None}
        return self.request("GET", path, params=query).json()

    def text(self, path: str) -> str:
        return self.request("GET", path).text

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body).json()

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body).json()

    def delete(self, path: str) -> None:
        self.request("DELETE", path)


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(detail, list):  # FastAPI's validation errors
        return "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg')}" for item in detail
        )
    return str(detail)
