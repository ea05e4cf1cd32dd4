"""Example team configs bundled with troupe."""

from pathlib import Path

BUNDLED_CONFIG = Path(__file__).with_name("teams.yaml")

__all__ = ["BUNDLED_CONFIG"]
