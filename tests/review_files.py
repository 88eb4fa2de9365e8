"""Shared by the review tests (tests/unit and tests/integration trainer/test_review.py): the
messages they label, and running `python -m trainer.review` in-process on copies of the data."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from trainer import review

ROOT = Path(__file__).resolve().parent.parent

GIBBERISH = "zzkq blorp wibble"
CODE_QUESTION = "how long does the sms code last for"
LAPTOP = "cant get into my mailbox since the new laptop"
BLANK_PAGE = "the webmail shows a blank page after login"
CHINESE = "我的邮箱一直收到异地登录提醒怎么办"


def run(*argv: Any) -> int:
    """`python -m trainer.review ARGV`, in this process; its exit status."""
    return review.main([str(a) for a in argv])


def export(url: str, out: Path, *extra: Any) -> int:
    """Export from the tracker store at `url` to `out`, against the project's own data."""
    return run(
        "export",
        "--db-url",
        url,
        "--out",
        out,
        "--data-dir",
        ROOT / "data" / "nlu",
        "--domain",
        ROOT / "domain.yml",
        "--test-data",
        ROOT / "tests" / "nlu",
        *extra,
    )


ZH_FORGOT = 'version: "3.1"\nnlu:\n- intent: forgot_password\n  examples: |\n    - 我忘记密码了\n    - 忘记邮箱密码\n'


def copy_data(tmp_path: Path) -> Path:
    """A copy of the English files of data/nlu, with one Chinese file holding forgot_password only."""
    target = tmp_path / "nlu"
    if not target.exists():
        (target / "zh").mkdir(parents=True)
        for path in (ROOT / "data" / "nlu").glob("*.yml"):
            shutil.copy(path, target / path.name)
        (target / "zh" / "forgot_password.yml").write_text(ZH_FORGOT, encoding="utf-8")
    return target


def merge(path: Path, data: Path) -> int:
    """Merge the review file `path` into the NLU folder `data`."""
    return run(
        "merge", path, "--data-dir", data, "--domain", ROOT / "domain.yml", "--test-data", ROOT / "tests" / "nlu"
    )
