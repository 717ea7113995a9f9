"""requests sessions that read the proxy and CA-bundle environment once per host.

requests searches the whole environment on every call for proxies, NO_PROXY and the CA bundle,
which is about a sixth of the CPU time of a small lookup on cloud storage. A registry's environment
does not change while it runs, so these sessions read it once per scheme and host, as Go's
`http.ProxyFromEnvironment` (which Distribution uses) reads it once per process.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

# (scheme, host, the request's no_proxy) -> the environment's proxies for them
ProxyKey = tuple[str, str, str | None]
MAX_HOSTS = 256  # a driver talks to a handful of hosts; this bounds a misuse


class EnvironmentOnce(requests.Session):
    """A session (or a mixin before another session class) that caches what requests would
    read from the environment for each host."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._proxies_by_host: dict[ProxyKey, dict[str, str]] = {}
        self._ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")

    def merge_environment_settings(
        self,
        url: str,
        proxies: dict[str, str] | None,
        stream: bool | None,
        verify: bool | str | None,
        cert: Any,
    ) -> dict[str, Any]:
        """What `requests.Session.merge_environment_settings` returns, from the cached reads."""
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if proxies is not None:
            for scheme, proxy in self._environ_proxies(url, proxies.get("no_proxy")).items():
                proxies.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = self._ca_bundle or verify
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }

    def _environ_proxies(self, url: str, no_proxy: str | None) -> dict[str, str]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        found = self._proxies_by_host.get(key)
        if found is None:
            if len(self._proxies_by_host) >= MAX_HOSTS:
                self._proxies_by_host.clear()
            origin = f"{parts.scheme}://{parts.netloc}/"
            found = self._proxies_by_host[key] = get_environ_proxies(origin, no_proxy=no_proxy)
        return found
