"""`make new-problem` end to end, in a temporary copy of the project.

Scaffold a guide, check that the data check refuses the unfilled placeholders, fill
in minimal content as a trainer would, then: the data check passes, Rasa validates
the data, a model trains, and the new guide answers in a real conversation.

Training is what `make train` does for the project: the model is cached under
ALIMAIL_CACHE_DIR (default ~/.cache/alimail-assistant, the Makefile's CACHE_DIR) named by the hash
of everything it depends on (trainer.model_hash over the scaffolded copy, and the quick config), so
a run with the same inputs reuses the model an earlier run trained and that answered, and any change
to the data, the scaffold's templates, the config, the pinned packages or the pipeline's modules
trains again. Only a model that answered below is cached.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.e2e.servers import RASA, ROOT, start_servers
from tests.project_copy import copy_project
from trainer.model_hash import model_hash

KEY = "shared_mailbox"
TITLE = "Can't open a shared mailbox"
TRAINING_EN = [
    "cant open the shared mailbox",
    "shared mailbox wont open",
    "no access to our team mailbox anymore",
    "the shared inbox disappeared from my webmail",
    "i lost access to the support@ shared mailbox",
    "how do i get into the shared mailbox",
    "shared mailbox says permission denied",
    "team inbox not showing up",
    "cannot see the group mailbox",
    "shared mailbox access problem",
    "my colleague added me to the shared mailbox but i cant open it",
    "where is the shared mailbox in webmail",
    "shared mbox not loading",
    "i need access to a shared mailbox",
    "the sales shared mailbox is gone",
    "opening the shared mailbox gives an error",
    "shared mailbox permissions broken",
    "cant read mail in the team mailbox",
    "shared mailbox missing after password reset",
    "access denied on shared mailbox",
    "help with shared mailbox access",
]
TRAINING_ZH = [
    "共享邮箱打不开",
    "打不开共享邮箱",
    "看不到共享邮箱了",
    "共享邮箱没权限",
    "团队邮箱进不去",
    "共享邮箱提示权限不足",
    "公共邮箱访问不了",
    "共享邮箱不见了",
    "怎么进共享邮箱",
    "共享邮箱加载不出来",
    "同事把我加进共享邮箱了但打不开",
    "网页版里找不到共享邮箱",
    "共享邮箱报错",
    "没法访问部门共享邮箱",
    "共享邮箱权限出问题了",
    "共享邮箱里的邮件看不了",
    "改完密码共享邮箱没了",
    "共享邮箱拒绝访问",
    "共享邮箱用不了怎么办",
    "求助共享邮箱访问问题",
    "销售部共享邮箱进不去",
]
HELDOUT_EN = [
    "shared mailbox is not opening for me",
    "lost my team inbox access",
    "group mailbox gives permission error",
    "the shared box vanished",
    "cant get into support shared inbox",
    "why cant i open our shared mailbox",
    "shared mail box access denied",
    "team mailbox wont load",
    "no rights on the shared mailbox",
    "shared mailbox not in my list",
    "i was given shared mailbox access but nothing shows",
    "shared inbox error when opening",
    "unable to open department mailbox",
    "shared mailbox stopped working",
    "access to the hr shared mailbox broken",
]
HELDOUT_ZH = [
    "共享邮箱进不去了",
    "团队邮箱打不开怎么回事",
    "共享邮箱显示无权限",
    "部门公共邮箱看不到",
    "共享邮箱一直加载",
    "共享箱子打不开",
    "访问共享邮箱报错了",
    "共享邮箱突然消失",
    "没有共享邮箱的访问权限",
    "人事共享邮箱用不了",
]


def _run(args, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


def _replace_todo_line(path: Path, lines: list) -> None:
    """Replace the one `- TODO ...` example line with real examples."""
    text = path.read_text(encoding="utf-8")
    todo = re.search(r"^(\s*)- TODO .*$", text, flags=re.M)
    assert todo, f"no TODO example line in {path}"
    block = "\n".join(f"{todo.group(1)}- {line}" for line in lines)
    path.write_text(text[: todo.start()] + block + text[todo.end() :], encoding="utf-8")


def _fill_in(project: Path) -> None:
    knowledge = project / "knowledge" / "alimail_security.yml"
    text = knowledge.read_text(encoding="utf-8")
    text = text.replace(
        'source: "TODO: the documented team decision this guide\'s content comes from"',
        'source: "Test fixture written by tests/e2e/test_scaffold.py"',
    )
    text = re.sub(r'en: "TODO ([^"]*)"', lambda m: f'en: "Shared mailbox: {m.group(1)}"', text)
    text = re.sub(r'zh: "TODO ([^"]*)"', lambda m: f'zh: "共享邮箱：{m.group(1)}"', text)
    knowledge.write_text(text, encoding="utf-8")
    _replace_todo_line(project / "data" / "nlu" / f"{KEY}.yml", TRAINING_EN)
    _replace_todo_line(project / "data" / "nlu" / "zh" / f"{KEY}.yml", TRAINING_ZH)
    _replace_todo_line(project / "tests" / "nlu" / "heldout.yml", HELDOUT_EN)
    _replace_todo_line(project / "tests" / "nlu" / "heldout_zh.yml", HELDOUT_ZH)
    story = project / "tests" / "stories" / f"test_{KEY}.yml"
    story.write_text(
        story.read_text(encoding="utf-8").replace(
            "TODO a typical first message from a user with this problem", TRAINING_EN[0]
        ),
        encoding="utf-8",
    )


def _quick_config(project: Path) -> Path:
    """config.yml with fewer epochs: this test proves the plumbing, not the accuracy."""
    config = project / "config.quick.yml"
    config.write_text(re.sub(r"epochs: \d+", "epochs: 20", (project / "config.yml").read_text()), encoding="utf-8")
    return config


def _cached_model(project: Path, config: Path) -> Path:
    """Where the model of `project` trained with `config` is cached: named by the hash of its inputs."""
    shutil.copy2(ROOT / "requirements.txt", project / "requirements.txt")  # the pinned packages, hashed too
    key = hashlib.sha256(f"{model_hash(project)}\0".encode() + config.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("ALIMAIL_CACHE_DIR") or Path.home() / ".cache" / "alimail-assistant")
    return cache / "models" / f"scaffolded-{key}.tar.gz"


def _keep(model: Path, cached: Path) -> None:
    """Copy `model` to `cached` (write, then rename: a concurrent run never reads half a file)."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
    shutil.copy2(model, partial)
    os.replace(partial, cached)


def test_a_scaffolded_guide_validates_trains_and_answers(tmp_path):
    project = tmp_path / "project"
    copy_project(project)

    made = _run([sys.executable, "-m", "trainer.scaffold", "new-problem", KEY, "--title", TITLE], project)
    assert made.returncode == 0, made.stderr
    assert f"tests/stories/test_{KEY}.yml" in made.stdout

    unfilled = _run([sys.executable, "-m", "trainer.check"], project)
    assert unfilled.returncode == 1
    assert "TODO placeholder" in unfilled.stdout and f"data/nlu/{KEY}.yml" in unfilled.stdout

    again = _run([sys.executable, "-m", "trainer.scaffold", "new-problem", KEY], project)
    assert again.returncode == 2 and "already exists" in again.stderr

    _fill_in(project)
    checked = _run([sys.executable, "-m", "trainer.check"], project)
    assert checked.returncode == 0, checked.stdout
    stale = _run([sys.executable, "-m", "tools.sync_responses", "--check"], project)
    assert stale.returncode == 1 and "data/responses/menus.yml is out of date" in stale.stderr
    responses = _run([sys.executable, "-m", "tools.sync_responses"], project)  # `make responses`
    assert responses.returncode == 0, responses.stdout + responses.stderr
    assert TITLE in (project / "data" / "responses" / "menus.yml").read_text(encoding="utf-8")
    validated = _run([*RASA, "data", "validate", "--fail-on-warnings"], project)
    assert validated.returncode == 0, validated.stdout[-3000:] + validated.stderr[-3000:]

    config = _quick_config(project)
    model = project / "models" / "scaffolded.tar.gz"
    cached = _cached_model(project, config)
    if cached.is_file():  # trained from exactly these inputs by an earlier run, and it answered
        model.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cached, model)
    else:
        trained = _run(
            [*RASA, "train", "--config", str(config), "--out", "models", "--fixed-model-name", "scaffolded"],
            project,
        )
        assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    assert model.exists()

    (tmp_path / "servers").mkdir()
    servers = start_servers(tmp_path / "servers", model=str(model), root=project)
    try:
        typed = " ".join(m.get("text", "") for m in servers.say("e2e-scaffold-typed", TRAINING_EN[0]))
        assert TITLE in typed and "Step 1 of 2: Shared mailbox: first step" in typed
        chinese = " ".join(m.get("text", "") for m in servers.say("e2e-scaffold-zh", TRAINING_ZH[0]))
        assert "共享邮箱：first step" in chinese
        by_button = servers.say("e2e-scaffold-button", f"/{KEY}")
        assert any(TITLE in m.get("text", "") for m in by_button)
        nxt = " ".join(m.get("text", "") for m in servers.say("e2e-scaffold-button", "/next_step"))
        assert "Step 2 of 2: Shared mailbox: second step" in nxt
    finally:
        servers.stop()
    if not cached.is_file():
        _keep(model, cached)
