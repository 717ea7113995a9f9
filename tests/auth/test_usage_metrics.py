"""Usage is admin-only, and /metrics is public: with auth on, the per-namespace usage series
(which name the registry's namespaces) are served to an admin's credentials only; anyone
else gets the totals. /api/v1/usage itself is in the permission matrix."""

from __future__ import annotations

import json
import re

import httpx

from registry.config import parse_settings
from registry.db.database import open_database
from registry.maintenance.gc.collect import GCOptions
from registry.maintenance.usage import compute_usage
from registry.tasks.usage import save_usage
from tests.maintenance.trees import NO_GRACE, Tree
from tests.support.auth import AuthRegistry, bearer

SECRET = "hiddenteam"


def measure(auth_registry: AuthRegistry) -> int:
    """What the `usage` task does, on the registry's storage and into its database."""
    tree = Tree(auth_registry.server.storage_root)
    tree.image(f"{SECRET}/app", "v1")
    result = compute_usage(tree.driver, GCOptions(grace_period=NO_GRACE))
    config = json.loads((auth_registry.server.workdir / "hth.json").read_text())
    db = open_database(parse_settings(config))
    try:
        save_usage(db, "usage-metrics-test", result)
    finally:
        db.engine.dispose()
    return result.total_bytes


def scrape(http: httpx.Client) -> str:
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


def series(text: str, name: str) -> list[str]:
    return re.findall(rf"^{name}(?:{{[^}}]*}})? .*$", text, re.M)


def test_namespace_series_only_for_admins_totals_for_everyone(auth_registry: AuthRegistry) -> None:
    total = measure(auth_registry)
    user = auth_registry.create_user("usage-metrics-plain")
    admin_token = auth_registry.create_token("root", "usage-metrics")["token"]

    with auth_registry.client() as anonymous, auth_registry.client(user) as plain:
        public = [scrape(anonymous), scrape(plain)]
    with auth_registry.admin() as by_password:
        admin = [scrape(by_password)]
    with auth_registry.client(**bearer(admin_token)) as by_token:
        admin.append(scrape(by_token))
    with auth_registry.client(("root", "not-the-password")) as wrong:
        public.append(scrape(wrong))  # a failed login is still a scrape: the public one

    for text in public:
        assert SECRET not in text
        assert series(text, "hth_usage_bytes") == series(text, "hth_usage_unique_bytes") == []
        assert series(text, "hth_usage_total_bytes") == [f"hth_usage_total_bytes {total:.1f}"]
    for text in admin:
        assert f'hth_usage_bytes{{namespace="{SECRET}"}}' in text
        assert f'hth_usage_unique_bytes{{namespace="{SECRET}"}}' in text
        assert series(text, "hth_usage_total_bytes") == [f"hth_usage_total_bytes {total:.1f}"]
