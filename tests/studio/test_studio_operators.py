"""The config page and its checker are the operator's: a tenant's key (``troupe keys
create``) gets 403, the checker refuses an alias bomb and a huge text at once, and header
secrets (``X-Api-Key``, Azure's ``api-key``, ``Authorization``) are masked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.asgi import Served
from tests.config.test_yaml_aliases import bomb
from troupe.server import create_app
from troupe.store import ApiKeyRecord, SQLConversationStore, key_digest, new_key
from troupe.studio._config import masked_config

pytestmark = pytest.mark.anyio

CONFIG = """
models:
  azure:
    provider: openai
    model: gpt-x
    base_url: https://internal-gateway.example/v1
    api_key: none
    headers:
      api-key: azure-secret-1
      X-Api-Key: gateway-secret-2
      Authorization: Basic dXNlcjpwdw==
  main: {provider: demo}
teams:
  helper:
    agents: [{name: helper, model: main, system_message: "Never say 'Bearer sk-prompt-3'."}]
server:
  studio: true
  api_keys: [op-key-0001]
  database_url: sqlite:///{db}
"""
OPERATOR = {"authorization": "Bearer op-key-0001"}


async def app_with_tenant(tmp_path: Path) -> tuple[Any, dict[str, str]]:
    db = tmp_path / "troupe.db"
    store = SQLConversationStore(f"sqlite:///{db}")
    key = new_key()
    try:
        await store.add_key(ApiKeyRecord(name="tenant-a", digest=key_digest(key), prefix=key[:7]))
    finally:
        await store.close()
    config = tmp_path / "teams.yaml"
    config.write_text(CONFIG.replace("{db}", str(db)))
    return create_app(config, store=SQLConversationStore(f"sqlite:///{db}")), {"x-api-key": key}


async def test_a_tenant_key_gets_403_for_the_config_and_the_checker(
    served: Served, tmp_path: Path
) -> None:
    app, tenant = await app_with_tenant(tmp_path)
    client = await served.http(app)
    # The tenant's key works for what is its own…
    assert (await client.get("/studio/api/teams", headers=tenant)).status_code == 200
    assert (await client.get("/studio/api/runs", headers=tenant)).status_code == 200
    # …not for the server's config, nor for the checker.
    denied = [
        await client.get("/studio/api/config", headers=tenant),
        await client.post("/studio/api/check", json={"yaml": "teams: {}"}, headers=tenant),
    ]
    for response in denied:
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["type"] == "permission_error" and error["code"] == "forbidden"
        assert "operators" in error["message"] and "troupe keys create" in error["message"]
        assert "internal-gateway" not in response.text
    shown = await client.get("/studio/api/config", headers=OPERATOR)
    assert shown.status_code == 200
    assert "internal-gateway.example" in shown.json()["yaml"]
    good = "models: {m: {provider: demo}}\nteams: {t: {agents: [{name: a, model: m}]}}\n"
    checked = await client.post("/studio/api/check", json={"yaml": good}, headers=OPERATOR)
    assert checked.json()["ok"] is True


async def test_header_secrets_and_authorization_values_are_masked(
    served: Served, tmp_path: Path
) -> None:
    app, _ = await app_with_tenant(tmp_path)
    client = await served.http(app)
    shown = (await client.get("/studio/api/config", headers=OPERATOR)).json()["yaml"]
    for secret in ("azure-secret-1", "gateway-secret-2", "dXNlcjpwdw==", "sk-prompt-3"):
        assert secret not in shown, secret
    assert "api-key: '********'" in shown and "X-Api-Key: '********'" in shown
    assert "Authorization: '********'" in shown
    assert "Never say 'Bearer ********'." in shown
    assert "model: gpt-x" in shown


async def test_the_checker_refuses_an_alias_bomb_and_a_huge_config(
    served: Served, tmp_path: Path
) -> None:
    app, _ = await app_with_tenant(tmp_path)
    client = await served.http(app)
    answer = await client.post("/studio/api/check", json={"yaml": bomb(9)}, headers=OPERATOR)
    assert answer.status_code == 200
    assert answer.json()["ok"] is False
    [error] = answer.json()["errors"]
    assert error["path"] == "$" and "through its aliases" in error["message"]
    huge = "teams: {}\n" + "# padding\n" * 30_000
    too_big = await client.post("/studio/api/check", json={"yaml": huge}, headers=OPERATOR)
    assert too_big.status_code == 413
    error = too_big.json()["error"]
    assert error["param"] == "yaml" and "256 KiB" in error["message"]


def test_camel_case_secret_names_are_masked_too() -> None:
    shown = masked_config(
        "tools:\n"
        "  - name: crm\n"
        "    config: {clientSecret: cs-1111, accessToken: at-2222, slackBotToken: xb-3333,\n"
        "             maxTokens: 4096, tokenizer: cl100k}\n"
    )
    for secret in ("cs-1111", "at-2222", "xb-3333"):
        assert secret not in shown, secret
    assert "maxTokens: 4096" in shown and "tokenizer: cl100k" in shown
