"""The production profile's files that can't run here: endpoints, docker-compose, Dockerfile, Helm values.

They are checked for what breaks a deployment quietly: YAML that doesn't parse, a compose
service without image or build, ports YAML would read as numbers, a ${VAR} Rasa would not
substitute (quoted) or that nobody sets, and environment variable names that differ between
endpoints.production.yml, scripts/run.sh, docker-compose, the Helm values and the README.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Dict, Iterable, List, Set

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENDPOINTS = ROOT / "endpoints.production.yml"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
ENTRYPOINT = DEPLOY / "docker-entrypoint.sh"
ENV_EXAMPLE = DEPLOY / ".env.example"
HELM_RASA = DEPLOY / "helm" / "values.yaml"
HELM_ACTIONS = DEPLOY / "helm" / "values-actions.yaml"
HELM_ACTIONS_POLICY = DEPLOY / "helm" / "networkpolicy-actions.yaml"
RUN_SH = ROOT / "scripts" / "run.sh"

VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")  # ${NAME}, ${NAME:-default}, ${NAME:?message}
# Set by the Rasa Helm chart itself when `rasa-action-server.external.url` is given.
HELM_CHART_PROVIDES = {"ACTION_SERVER_URL"}
# Rasa's and rasa-sdk's own settings (their documentation, not ours).
RASA_NATIVE = {"SANIC_WORKERS", "ACTION_SERVER_SANIC_WORKERS"}
# Secrets the production profile requires: no default anywhere, the start refuses without them.
REQUIRED = {"ACTION_SERVER_TOKEN"}
# The services that may share a network with the action server (SECURITY.md): Rasa, and its database.
MAY_REACH_ACTIONS = {"rasa-1", "rasa-2", "postgres"}


def load_all(path: Path) -> List:
    return list(yaml.safe_load_all(path.read_text(encoding="utf-8")))


def variables(text: str) -> Set[str]:
    return set(VARIABLE.findall(text))


def uncommented(path: Path) -> str:
    return "\n".join(
        line.split(" #", 1)[0]
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    )


def readme_variables() -> Set[str]:
    """Every `UPPER_CASE` name in backticks in the README; `_FORMAT` after `TICKET_WEBHOOK_URL` counts too."""
    names: Set[str] = set()
    previous = ""
    for token in re.findall(r"`([A-Z0-9_]+)`", (ROOT / "README.md").read_text(encoding="utf-8")):
        if token.startswith("_") and previous:
            names.add(previous.rsplit("_", 1)[0] + token)
        elif re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+", token):
            names.add(token)
            previous = token
    return names


def production_block() -> str:
    """The production branch of run.sh's profile selection."""
    text = RUN_SH.read_text(encoding="utf-8")
    return text[text.index("  production)") : text.index("esac")]


def run_sh_defaults() -> Dict[str, str]:
    """NAME → default of every `NAME=${NAME:-default}` in run.sh's production profile."""
    return {
        name: default
        for name, same, default in re.findall(
            r"\b([A-Z][A-Z0-9_]*)=\$\{([A-Z][A-Z0-9_]*):-([^}]*)\}", production_block()
        )
        if name == same
    }


def documented() -> Set[str]:
    """What run.sh reads (its ${VAR}s) and what the README names."""
    return variables(RUN_SH.read_text(encoding="utf-8")) | readme_variables() | RASA_NATIVE


def compose() -> Dict:
    (document,) = load_all(COMPOSE)
    return document


def helm_env(path: Path) -> Dict[str, Dict]:
    (values,) = load_all(path)
    return {entry["name"]: entry for entry in values.get("extraEnv") or []}


# -- parsing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", [ENDPOINTS, COMPOSE, HELM_RASA, HELM_ACTIONS, HELM_ACTIONS_POLICY], ids=lambda p: p.name
)
def test_yaml_parses_to_one_mapping(path):
    documents = load_all(path)
    assert len(documents) == 1 and isinstance(documents[0], dict), path


# -- endpoints.production.yml ----------------------------------------------------------------------
def test_endpoints_use_the_strict_stores_and_take_everything_from_the_environment():
    (endpoints,) = load_all(ENDPOINTS)
    assert endpoints["tracker_store"]["type"] == "stores.strict.StrictSQLTrackerStore"
    assert endpoints["tracker_store"]["dialect"] == "postgresql"
    assert endpoints["lock_store"]["type"] == "stores.strict.StrictRedisLockStore"
    assert endpoints["action_endpoint"]["url"] == "${ACTION_SERVER_URL}"
    # Rasa sends the shared secret on every action call.
    assert endpoints["action_endpoint"]["headers"] == {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"}
    for section in ("tracker_store", "lock_store"):
        for key, value in endpoints[section].items():
            if key not in ("type", "dialect"):
                assert re.fullmatch(r"\$\{[A-Z_]+\}", str(value)), f"{section}.{key} = {value!r}"


def test_no_quoted_variables_in_endpoints():
    """Rasa's YAML reader substitutes ${VAR} only in plain (unquoted) scalars."""
    from tools.check_stores import endpoint_file_problems

    text = ENDPOINTS.read_text(encoding="utf-8")
    assert endpoint_file_problems(text, {name: "x" for name in variables(text)}) == []
    assert endpoint_file_problems('url: "${ACTION_SERVER_URL}"\n', {"ACTION_SERVER_URL": "x"})  # the check works


def test_endpoints_read_by_rasa_with_the_run_sh_defaults():
    from rasa.core.lock_store import RedisLockStore
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.shared.utils.common import class_from_module_path

    defaults = run_sh_defaults()
    defaults["ACTION_SERVER_URL"] = "http://127.0.0.1:5055/webhook"  # run.sh: from ACTION_HOST/ACTION_PORT
    defaults["ACTION_SERVER_TOKEN"] = "s3cret-t0ken"  # required: run.sh refuses to start without it
    saved = {name: os.environ.get(name) for name in defaults}
    os.environ.update(defaults)
    try:
        endpoints = AvailableEndpoints.read_endpoints(str(ENDPOINTS))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert endpoints.action.url == "http://127.0.0.1:5055/webhook"
    assert endpoints.action.headers == {"Authorization": "Bearer s3cret-t0ken"}
    assert endpoints.tracker_store.url == "127.0.0.1"
    assert endpoints.tracker_store.kwargs["port"] == "5432"
    assert endpoints.tracker_store.kwargs["password"] == ""
    assert endpoints.lock_store.kwargs["key_prefix"] == "alimail"
    assert issubclass(class_from_module_path(endpoints.tracker_store.type), SQLTrackerStore)
    assert issubclass(class_from_module_path(endpoints.lock_store.type), RedisLockStore)


# -- docker-compose --------------------------------------------------------------------------------
def test_every_compose_service_has_an_image_or_a_build_and_string_ports():
    services = compose()["services"]
    assert {"postgres", "redis", "actions", "rasa-1", "rasa-2", "tickets-api"} <= set(services)
    for name, service in services.items():
        assert service.get("image") or service.get("build"), f"{name}: neither image nor build"
        for key in ("ports", "expose"):
            for port in service.get(key) or []:
                assert isinstance(port, str), f"{name}.{key}: {port!r} must be a quoted string"
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        build = service.get("build")
        if build:
            assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} missing"


def test_compose_app_services_use_the_project_image_and_entrypoint_roles():
    services = compose()["services"]
    roles = {"actions": ["actions"], "rasa-1": ["rasa"], "rasa-2": ["rasa"], "tickets-api": ["tickets-api"]}
    for name, command in roles.items():
        assert services[name]["command"] == command
        assert services[name]["image"] == services["actions"]["image"]
    entrypoint = ENTRYPOINT.read_text(encoding="utf-8")
    for role in ("rasa", "actions", "tickets-api"):
        assert f"  {role})" in entrypoint


def test_compose_environment_values_are_strings():
    """Compose rejects numbers and booleans in `environment` mappings only in some versions: quote them."""
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        if isinstance(environment, dict):
            for key, value in environment.items():
                assert isinstance(value, str), f"{name}: {key}={value!r} must be a string"


def test_compose_variables_are_documented_and_in_the_env_example():
    text = COMPOSE.read_text(encoding="utf-8")
    used = variables(uncommented(COMPOSE))
    example = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    assert used <= example, f"not in deploy/.env.example: {sorted(used - example)}"
    assert example <= documented(), f"not documented by run.sh or the README: {sorted(example - documented())}"
    assert "$${" not in text  # a literal ${ for a container shell is written $$VAR


def test_compose_rasa_services_set_every_endpoints_variable():
    needed = variables(uncommented(ENDPOINTS))
    for name in ("rasa-1", "rasa-2"):
        environment = compose()["services"][name]["environment"]
        assert needed <= set(environment), f"{name} lacks {sorted(needed - set(environment))}"
        assert environment["SANIC_WORKERS"] == "1"


def test_dockerfile():
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert stages[-1] == "python:3.10-slim"
    assert "pip install -r requirements.txt" in text
    assert re.search(r'ENTRYPOINT \["/opt/alimail/deploy/docker-entrypoint.sh"\]', text)
    assert "WORKDIR /opt/alimail" in text
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        if source != ".":
            assert (ROOT / source).exists(), f"COPY {source}: missing"
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR, "deploy/docker-entrypoint.sh must be executable"
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored and "var" in ignored and "models" not in ignored


# -- Helm -----------------------------------------------------------------------------------------
def test_helm_values_for_the_rasa_chart():
    (values,) = load_all(HELM_RASA)
    assert values["replicaCount"] >= 2
    assert values["command"] == ["/opt/alimail/deploy/docker-entrypoint.sh"] and values["args"] == ["rasa"]
    settings = values["applicationSettings"]
    assert settings["enableAPI"] is False and settings["initialModel"] == ""
    assert settings["endpoints"]["trackerStore"]["enabled"] is False  # endpoints.production.yml instead
    assert settings["endpoints"]["lockStore"]["enabled"] is False
    assert values["postgresql"]["install"] is False and values["redis"]["install"] is False
    assert values["rasa-action-server"]["external"]["url"].endswith("/webhook")
    for entry in values["extraEnv"]:
        assert set(entry) in ({"name", "value"}, {"name", "valueFrom"}), entry
        assert "value" not in entry or isinstance(entry["value"], str), entry


def test_helm_values_for_the_action_server_chart():
    (values,) = load_all(HELM_ACTIONS)
    (rasa,) = load_all(HELM_RASA)
    assert values["args"] == ["actions"] and values["command"] == rasa["command"]
    assert (values["registry"], values["image"]) == (rasa["registry"], rasa["image"])
    env = helm_env(HELM_ACTIONS)
    assert env["ACTION_PORT"]["value"] == str(values["applicationSettings"]["port"])
    assert "TICKETS_DB_URL" in env
    # The chart's image.repository and fullnameOverride must stay null (its values.schema.json).
    assert values["image"].get("repository") is None and values.get("fullnameOverride") is None
    # values.yaml calls http://<release>-rasa-action-server/webhook on the service port.
    assert values["service"]["port"] == 80


def test_helm_sets_every_endpoints_variable():
    needed = variables(uncommented(ENDPOINTS))
    provided = set(helm_env(HELM_RASA)) | HELM_CHART_PROVIDES
    assert needed <= provided, f"missing in deploy/helm/values.yaml extraEnv: {sorted(needed - provided)}"


# -- one set of names -------------------------------------------------------------------------------
def test_run_sh_gives_every_endpoints_variable_a_default():
    needed = variables(uncommented(ENDPOINTS)) - REQUIRED
    defaults = run_sh_defaults()
    assert needed <= set(defaults), f"run.sh production profile sets no default for {sorted(needed - set(defaults))}"
    assert not REQUIRED & set(defaults), "a required secret must have no default"
    assert defaults["TRACKER_DB_HOST"] == "127.0.0.1" and defaults["REDIS_HOST"] == "127.0.0.1"


@pytest.mark.parametrize("source", ["endpoints", "compose", "helm", "helm-actions"])
def test_every_variable_name_is_one_that_run_sh_or_the_readme_documents(source):
    names: Iterable[str] = {
        "endpoints": lambda: variables(uncommented(ENDPOINTS)),
        "compose": lambda: (
            variables(uncommented(COMPOSE))
            | {  # POSTGRES_*: the postgres image's own
                key
                for service in compose()["services"].values()
                for key in (service.get("environment") or {})
                if not key.startswith("POSTGRES_")
            }
        ),
        "helm": lambda: set(helm_env(HELM_RASA)),
        "helm-actions": lambda: set(helm_env(HELM_ACTIONS)),
    }[source]()
    unknown = set(names) - documented()
    assert not unknown, f"{source}: {sorted(unknown)} not documented in run.sh or the README"


# -- who can reach what (SECURITY.md) --------------------------------------------------------------
def test_compose_only_rasa_reaches_the_action_server():
    services = compose()["services"]
    networks = compose()["networks"]
    actions_networks = set(services["actions"]["networks"])
    assert "actions" in actions_networks and networks["actions"].get("internal") is True
    for name, service in services.items():
        assert service.get("networks"), f"{name}: no networks, so it would join the default one with everything"
        if name != "actions" and actions_networks & set(service["networks"]):
            assert name in MAY_REACH_ACTIONS, (
                f"{name} shares {actions_networks & set(service['networks'])} with actions"
            )
    for network in actions_networks - {"actions"}:
        members = {name for name, service in services.items() if network in service["networks"]}
        assert members <= {"actions"} | (MAY_REACH_ACTIONS - {"rasa-1", "rasa-2"}), (network, members)
        if "postgres" in members:
            assert networks[network].get("internal") is True, network
    assert not services["actions"].get("ports"), "the action server publishes no port"
    assert {"rasa-1", "rasa-2"} <= {n for n, s in services.items() if "actions" in s["networks"]}


def test_compose_requires_the_action_server_token_and_passes_the_rest_token():
    text = COMPOSE.read_text(encoding="utf-8")
    services = compose()["services"]
    for name in ("actions", "rasa-1", "rasa-2"):
        value = services[name]["environment"]["ACTION_SERVER_TOKEN"]
        assert value.startswith("${ACTION_SERVER_TOKEN:?"), f"{name}: ACTION_SERVER_TOKEN must be required"
    for name in ("rasa-1", "rasa-2"):
        assert services[name]["environment"]["REST_API_TOKEN"] == "${REST_API_TOKEN:-}"
    # Published: only nginx (Rasa, whose REST needs the token on 0.0.0.0) and the ticket API on loopback.
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx", "tickets-api"}
    assert all(port.startswith("127.0.0.1:") for port in services["tickets-api"]["ports"])
    assert "${REST_API_TOKEN" in text


def test_helm_sends_and_checks_the_action_server_token_and_needs_the_rest_token():
    rasa, actions = helm_env(HELM_RASA), helm_env(HELM_ACTIONS)
    for env, names in ((rasa, ("ACTION_SERVER_TOKEN", "REST_API_TOKEN")), (actions, ("ACTION_SERVER_TOKEN",))):
        for name in names:
            reference = env[name]["valueFrom"]["secretKeyRef"]
            assert reference["name"] == "alimail-secrets" and not reference.get("optional"), (name, reference)
    assert rasa["ACTION_SERVER_TOKEN"]["valueFrom"] == actions["ACTION_SERVER_TOKEN"]["valueFrom"]


def test_helm_network_policy_admits_only_rasa_to_the_action_server():
    (policy,) = load_all(HELM_ACTIONS_POLICY)
    (rasa,) = load_all(HELM_RASA)
    (actions,) = load_all(HELM_ACTIONS)
    assert policy["kind"] == "NetworkPolicy" and policy["apiVersion"] == "networking.k8s.io/v1"
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= actions["podLabels"].items()
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    (source,) = rule["from"]
    assert set(source) == {"podSelector"}  # pods of this namespace only, no ipBlock or namespaceSelector
    assert source["podSelector"]["matchLabels"].items() <= rasa["podLabels"].items()
    assert not source["podSelector"]["matchLabels"].items() <= actions["podLabels"].items()
    assert rule["ports"] == [{"protocol": "TCP", "port": actions["applicationSettings"]["port"]}]


STARTERS = [RUN_SH, ENTRYPOINT, ROOT / "tools", ROOT / "tests", ROOT / "Makefile"]


def test_every_starter_of_the_action_server_goes_through_tools_serve():
    """`python -m rasa_sdk` (or `rasa run actions`) would serve the actions without the token check."""
    bypass = re.compile(r"""-m["',\s]+rasa_sdk\b|rasa run actions""")
    files = [p for s in STARTERS for p in ([s] if s.is_file() else s.rglob("*")) if p.suffix in ("", ".py", ".sh")]
    this = Path(__file__).resolve()
    offenders = [
        str(path.relative_to(ROOT))
        for path in files
        if path.is_file() and path.resolve() != this and bypass.search(path.read_text("utf-8"))
    ]
    assert offenders == []
    assert bypass.search('[sys.executable, "-m", "rasa_sdk", "--actions"]')  # the check works
    assert "tools.serve actions" in RUN_SH.read_text(encoding="utf-8").replace("$RASA", "tools.serve")
    assert "python -m tools.serve actions" in ENTRYPOINT.read_text(encoding="utf-8")


# -- the embedded profile as services (issue 17): systemd units ------------------------------------------
SYSTEMD = DEPLOY / "systemd"
SERVICES = {
    "alimail-actions.service": "-m tools.serve actions --actions actions --host 127.0.0.1 --port 5055",
    "alimail-rasa.service": "-m tools.serve run --model models --interface 127.0.0.1 --port 5005",
    "alimail-tickets-api.service": "-m tickets.api --port 5056",
}


def unit(path: Path) -> Dict[str, Dict[str, str]]:
    import configparser

    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return {section: dict(parser[section]) for section in parser.sections()}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_restarts_after_a_crash_and_never_gives_up(name):
    service = unit(SYSTEMD / name)
    assert service["Service"]["Restart"] == "always"
    assert 0 < float(service["Service"]["RestartSec"]) <= 10
    assert service["Unit"]["StartLimitIntervalSec"] == "0"  # systemd's default gives up after 5 starts in 10 s
    assert service["Service"]["ExecStart"].startswith("/opt/alimail/.venv/bin/python ")
    assert SERVICES[name] in service["Service"]["ExecStart"]
    assert service["Unit"]["PartOf"] == "alimail.target"
    assert service["Install"]["WantedBy"] == "alimail.target"
    assert (
        "alimail.target" in SYSTEMD.joinpath("alimail.target").read_text()
        and name in unit(SYSTEMD / "alimail.target")["Unit"]["Wants"].split()
    )


def test_systemd_accepts_the_units(tmp_path):
    """`systemd-analyze verify` on copies pointing at this checkout (whose .venv exists)."""
    import shutil
    import subprocess

    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    copies = []
    for path in sorted(SYSTEMD.iterdir()):
        copy = tmp_path / path.name
        copy.write_text(path.read_text(encoding="utf-8").replace("/opt/alimail", str(ROOT)), encoding="utf-8")
        copies.append(str(copy))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *copies], capture_output=True, text=True, timeout=60
    )
    ours = [line for line in result.stderr.splitlines() if "alimail" in line]
    assert not ours, ours


def test_compose_restarts_and_health_checks_every_service():
    """Issue 17: a crashed container comes back, and each role reports its health through GET /ready
    (tools/readiness.py; the ticket API: tickets/api.py)."""
    services = compose()["services"]
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name, url in (
        ("rasa-1", "http://localhost:5005/ready"),
        ("rasa-2", "http://localhost:5005/ready"),
        ("actions", "http://localhost:5055/ready"),
        ("tickets-api", "http://localhost:5056/ready"),
    ):
        assert url in services[name]["healthcheck"]["test"], name


def test_helm_probes_restart_hung_pods_and_read_ready():
    (rasa,) = load_all(HELM_RASA)
    (actions,) = load_all(HELM_ACTIONS)
    assert rasa["livenessProbe"]["httpGet"]["path"] == "/" and rasa["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert actions["livenessProbe"]["httpGet"]["path"] == "/health"
    assert actions["readinessProbe"]["httpGet"]["path"] == "/ready"
