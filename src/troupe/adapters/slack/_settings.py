"""How the Slack adapter is set up: the troupe server, the Slack app's secrets, the teams."""

from __future__ import annotations

__all__ = ["SLACK_API_URL", "SlackSettings", "parse_channel_teams"]

import os
from collections.abc import Iterable, Mapping

import msgspec

SLACK_API_URL = "https://slack.com/api/"


class SlackSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the adapter needs; ``from_env`` reads the usual environment variables.

    ``channel_teams`` maps channel ids to the team that answers there; other
    channels and DMs get ``team``. ``signing_secret`` is needed in HTTP mode,
    ``app_token`` (``xapp-…``) selects Socket Mode.
    """

    server_url: str
    team: str
    bot_token: str
    api_key: str | None = None
    signing_secret: str = ""
    app_token: str | None = None
    api_url: str = SLACK_API_URL
    channel_teams: dict[str, str] = {}
    path: str = "/slack/events"
    command: str = "/troupe"
    # Seconds between two writes to the same message (Slack allows about one per second).
    update_interval: float = 1.0
    # On shutdown, turns in progress get this long to finish before they are cancelled.
    grace_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.api_url.endswith("/"):
            msgspec.structs.force_setattr(self, "api_url", self.api_url + "/")

    @classmethod
    def from_env(
        cls,
        *,
        server_url: str | None = None,
        team: str | None = None,
        api_key: str | None = None,
        channel_teams: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: object,
    ) -> SlackSettings:
        """Settings from arguments, falling back to the environment.

        ``TROUPE_SERVER``, ``TROUPE_API_KEY``, ``TROUPE_SLACK_TEAM``,
        ``TROUPE_SLACK_CHANNELS`` (``C123=support,C456=billing``),
        ``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``, ``SLACK_APP_TOKEN``,
        ``SLACK_API_URL``. Raises ``ValueError`` naming what is missing.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "server_url": server_url or env.get("TROUPE_SERVER") or "http://127.0.0.1:8000",
            "team": team or env.get("TROUPE_SLACK_TEAM") or "",
            "api_key": api_key or env.get("TROUPE_API_KEY") or None,
            "bot_token": env.get("SLACK_BOT_TOKEN", ""),
            "signing_secret": env.get("SLACK_SIGNING_SECRET", ""),
            "app_token": env.get("SLACK_APP_TOKEN") or None,
            "api_url": env.get("SLACK_API_URL") or SLACK_API_URL,
            "channel_teams": dict(
                channel_teams
                if channel_teams is not None
                else parse_channel_teams(env.get("TROUPE_SLACK_CHANNELS", "").split(","))
            ),
        }
        values.update(overrides)
        missing = [
            name
            for name, ok in (
                ("a default team (--team or TROUPE_SLACK_TEAM)", values["team"]),
                ("SLACK_BOT_TOKEN", values["bot_token"]),
                (
                    "SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)",
                    values["signing_secret"] or values["app_token"],
                ),
            )
            if not ok
        ]
        if missing:
            raise ValueError(f"the Slack adapter needs {', '.join(missing)}")
        return msgspec.convert(values, cls)


def parse_channel_teams(items: Iterable[str]) -> dict[str, str]:
    """``["C123=support", "C456=billing"]`` → ``{"C123": "support", "C456": "billing"}``."""
    mapping: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        channel, sep, team = item.partition("=")
        if not sep or not channel.strip() or not team.strip():
            raise ValueError(f"channel mapping {item!r} is not CHANNEL_ID=team")
        mapping[channel.strip()] = team.strip()
    return mapping
