"""The project's one way to start Rasa and the action server: check, then run.

    python -m tools.serve run --model models/X.tar.gz --endpoints endpoints.yml ...
    python -m tools.serve shell --model ...
    python -m tools.serve actions --actions actions --port 5055 [--host 127.0.0.1]
    python -m tools.serve preflight --interface HOST --action-host HOST [--credentials FILE]

Rasa's arguments are Rasa's own (`rasa --help`). `make run`, the tests, the benchmark and the
containers start Rasa through here, so every Rasa process runs with `tools.rasa_patches`,
and none starts on a Rasa version the patches were not tested with (exit 1, with the reason).

Who may reach what (SECURITY.md) is checked here too, before anything starts:

- `run`: a REST channel on an interface that is not loopback needs REST_API_TOKEN (our
  `channels.rest.RestInput`; Rasa's own `rest`, `callback` and `cmdline` channels trust the body
  and have no token, so they are refused there); the production profile needs ACTION_SERVER_TOKEN.
  No `--interface` means Rasa's 0.0.0.0, which is exposed.
- `shell`: Rasa's shell talks to its own REST channel; served on 127.0.0.1 unless told otherwise,
  and never on another interface.
- `actions`: the action server (tools/action_server.py), which checks ACTION_SERVER_TOKEN.
- `preflight`: the same checks for scripts/run.sh, which starts nothing when one fails (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import yaml

from core.settings import Settings, SettingsError, get_settings
from tools import rasa_patches
from tools.action_server import PRODUCTION_NEEDS_ACTION_TOKEN, is_loopback, startup_problem

RASA_DEFAULT_INTERFACE = "0.0.0.0"  # rasa.core.constants.DEFAULT_SERVER_INTERFACE
RASA_DEFAULT_CREDENTIALS = "credentials.yml"
RASA_DEFAULT_ENDPOINTS = "endpoints.yml"
RASA_DEFAULT_MODELS = "models"  # rasa.shared.constants.DEFAULT_MODELS_PATH
OUR_REST_CHANNELS = {"channels.rest.RestInput"}
# Rasa's channels that take the sender (and more) from the body and have no token.
UNGUARDED_CHANNELS = {"rest", "callback", "cmdline"}


def _server_options(args: List[str]) -> argparse.Namespace:
    """The options of `rasa run`/`rasa shell` that decide who can reach the server."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-i", "--interface", default=None)
    parser.add_argument("--credentials", default=None)
    parser.add_argument("--connector", default=None)
    parser.add_argument("-m", "--model", default=RASA_DEFAULT_MODELS)
    parser.add_argument("--endpoints", default=RASA_DEFAULT_ENDPOINTS)
    parser.add_argument("--remote-storage", default=None)
    known, _ = parser.parse_known_args(args)
    return known


def model_to_load(args: List[str]) -> Optional[Path]:
    """The local model archive `rasa run`/`rasa shell` with these arguments will load (Rasa's rule:
    `--model`, a file or the newest archive in a folder); None when Rasa may fetch one from elsewhere
    (`--remote-storage`, a model server in the endpoints file) or there is none yet."""
    from rasa.exceptions import ModelNotFound
    from rasa.model import get_local_model

    options = _server_options(args)
    if options.remote_storage or "models" in _yaml_keys(Path(options.endpoints)):
        return None
    try:
        return Path(get_local_model(options.model))
    except ModelNotFound:
        return None


def _yaml_keys(path: Path) -> List[str]:
    """The top-level keys of the YAML file at `path`; none when it is missing or unreadable (Rasa
    reports an unreadable file itself)."""
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    return [str(key) for key in data] if isinstance(data, dict) else []


def channels_of(credentials: Optional[str], connector: Optional[str]) -> List[str]:
    """The channel names or class paths Rasa will serve (its own rule: --connector, else every key
    of the credentials file, default credentials.yml when it exists)."""
    if connector:
        return [connector]
    return _yaml_keys(Path(credentials or RASA_DEFAULT_CREDENTIALS))


def rest_exposure_problem(interface: str, channels: List[str], settings: Settings) -> Optional[str]:
    """Why these channels must not be served on `interface`, or None."""
    if is_loopback(interface):
        return None
    unguarded = sorted(set(channels) & UNGUARDED_CHANNELS)
    if unguarded:
        return (
            f"Rasa's own {', '.join(unguarded)} channel would be reachable on {interface} and it believes whatever "
            "sender a request names. Use channels.rest.RestInput with REST_API_TOKEN instead (SECURITY.md), "
            "or serve on 127.0.0.1 (RASA_HOST)."
        )
    if set(channels) & OUR_REST_CHANNELS and not settings.rest_api_token:
        return (
            f"the REST channel (/webhooks/rest/webhook) would be reachable on {interface} without a token. "
            "Set REST_API_TOKEN (clients then send `Authorization: Bearer <token>`), serve on 127.0.0.1 "
            "(RASA_HOST), or leave channels.rest.RestInput out of the credentials file (SECURITY.md)."
        )
    return None


def rasa_problem(command: str, args: List[str], settings: Settings) -> Optional[str]:
    """Why Rasa must not start with this command line, or None."""
    if command == "run" and args[:1] == ["actions"]:
        return "start the action server with `python -m tools.serve actions` (it checks ACTION_SERVER_TOKEN)."
    if command not in ("run", "shell"):
        return None
    options = _server_options(args)
    if command == "shell":
        return rest_exposure_problem(options.interface or "127.0.0.1", ["cmdline"], settings)
    if settings.alimail_profile == "production" and not settings.action_server_token:
        return PRODUCTION_NEEDS_ACTION_TOKEN
    channels = channels_of(options.credentials, options.connector)
    return rest_exposure_problem(options.interface or RASA_DEFAULT_INTERFACE, channels, settings)


def preflight(argv: List[str], settings: Settings) -> Optional[str]:
    """scripts/run.sh's check before it starts anything: Rasa's and the action server's."""
    parser = argparse.ArgumentParser(prog="python -m tools.serve preflight", allow_abbrev=False)
    parser.add_argument("--interface", required=True, help="where Rasa will listen (RASA_HOST)")
    parser.add_argument("--action-host", required=True, help="where the action server will listen (ACTION_HOST)")
    parser.add_argument("--credentials", default=RASA_DEFAULT_CREDENTIALS)
    args = parser.parse_args(argv)
    problem = startup_problem(settings, args.action_host)
    if problem:
        return problem
    return rest_exposure_problem(args.interface, channels_of(args.credentials, None), settings)


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as error:
        sys.exit(f"Not starting: {error}")


def main(argv: Optional[List[str]] = None) -> None:
    """Check, apply the patches and hand `argv` (default: the command line) to Rasa's CLI,
    or start the action server (`actions`), or only check (`preflight`)."""
    args = sys.argv[1:] if argv is None else argv
    command, rest = (args[0], args[1:]) if args else ("", [])
    if command == "preflight":
        problem = preflight(rest, _settings())
        if problem:
            print(f"Not starting: {problem}", file=sys.stderr)
            sys.exit(2)
        return
    if command == "actions":
        from tools import action_server

        action_server.main(rest, _settings())
        return
    try:
        rasa_patches.apply(model_to_load(rest) if command in ("run", "shell") else None)
    except rasa_patches.UntestedRasaVersion as error:
        sys.exit(f"Not starting: {error}")
    problem = rasa_problem(command, rest, _settings()) if command in ("run", "shell") else None
    if problem:
        sys.exit(f"Not starting: {problem}")
    if command == "run" and _settings().turn_profile_file:
        rasa_patches.install_turn_timings(_settings().turn_profile_file)
    if command == "shell" and _server_options(rest).interface is None:
        args = [*args, "--interface", "127.0.0.1"]
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]
    rasa_main()


if __name__ == "__main__":
    main()
