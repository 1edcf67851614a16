"""The CLI's shared options: one spelling each, auto devices everywhere, ranges checked."""

from __future__ import annotations

import click
import pytest

from tryon.cli import _register_commands, cli, main
from tryon.cli.options import DeviceType

RANGED = ("learning_rate", "steps", "batch_size", "limit", "seed", "resolution", "max_minutes")
NUMBER = click.types.IntParamType | click.types.FloatParamType


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


@pytest.fixture(scope="module")
def commands() -> dict[str, click.Command]:
    _register_commands()
    return _commands(cli)


def test_every_device_option_takes_auto_and_one_spelling_per_option(commands) -> None:
    spellings = {}
    for name, command in commands.items():
        for parameter in command.params:
            if not isinstance(parameter, click.Option):
                continue
            for flag in parameter.opts:
                assert flag not in ("--lr", "--out-json"), f"{name}: {flag}"
                spellings.setdefault(parameter.name, set()).add(flag)
            if parameter.name == "device":
                assert isinstance(parameter.type, DeviceType), name
                assert parameter.type.convert("auto", None, None) == "auto"
            numeric = isinstance(
                parameter.type, click.types.IntParamType | click.types.FloatParamType
            )
            if numeric and parameter.name in (
                "learning_rate",
                "steps",
                "batch_size",
                "limit",
                "seed",
            ):
                assert isinstance(parameter.type, click.types._NumberRangeBase), (name, parameter)
    assert spellings["learning_rate"] == {"--learning-rate"}
    assert spellings["json_path"] == {"--json"}
    trainers = ("train hpn", "train flow", "train parser")
    for flag in ("--max-minutes", "--lr-schedule", "--num-workers", "--device", "--dry-run"):
        for trainer in trainers:
            assert any(flag in p.opts for p in commands[trainer].params), (trainer, flag)


def test_bad_values_are_usage_errors_before_anything_loads(tmp_path, capsys) -> None:
    for arguments, message in (
        (["--device", "gpu"], "'gpu' is not a device"),
        (["--learning-rate", "0"], "--learning-rate"),
        (["--max-minutes", "-1"], "--max-minutes"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(
                ["train", "flow", "--data", str(tmp_path), "--out", str(tmp_path / "r"), *arguments]
            )
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
