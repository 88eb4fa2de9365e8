"""tools/serve.py: Rasa starts only through the patches, and not at all on an untested Rasa version.
(The same in a fresh process: tests/integration/tools/test_serve.py.)"""

from __future__ import annotations

import sys

import pytest
import rasa

from tools import serve


def test_an_untested_rasa_exits_with_the_reason_before_rasa_sees_the_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rasa, "__version__", "9.9.9")
    monkeypatch.setattr(sys, "argv", ["serve", "--not-a-rasa-option"])
    with pytest.raises(SystemExit) as exit_info:
        serve.main(["run", "--no-such-flag"])
    assert str(exit_info.value.code).startswith("Not starting: Rasa 9.9.9 is installed")
    assert sys.argv == ["serve", "--not-a-rasa-option"]  # untouched: Rasa's CLI never ran
