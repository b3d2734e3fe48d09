"""The README documents every setting and every CLI command."""

from __future__ import annotations

from pathlib import Path

import click

from hub.cli import main
from hub.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"HUB_{name.upper()}"
        for name in Settings.model_fields
        if f"`HUB_{name.upper()}`" not in README
    ]
    assert not missing, f"document these in the README's configuration table: {missing}"


def test_every_cli_command_is_documented() -> None:
    def commands(group: click.Group, prefix: str) -> list[str]:
        found = []
        for name, command in group.commands.items():
            path = f"{prefix} {name}"
            if isinstance(command, click.Group):
                found += commands(command, path)
            else:
                found.append(path)
        return found

    listed = commands(main, "hub")
    assert len(listed) > 10
    missing = [command for command in listed if command not in README]
    assert not missing, f"document these commands in the README: {missing}"
