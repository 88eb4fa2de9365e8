"""trainer/model_hash.py: the model's name changes exactly when something the trained model depends on changes."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from tests.project_copy import copy_project
from trainer.model_hash import model_hash, pipeline_modules

PARTS = [
    "config.yml",
    "domain.yml",
    "requirements.txt",
    "tools/build_spacy_model.py",
    "tools/build_jieba_dict.py",
    "tools/build_wordnet.py",
    "data",
    "components",
    "core",
    "actions",
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path, PARTS, link_build=False)


def names(root: Path, paths: List[Path]) -> List[str]:
    return [str(p.relative_to(root)) for p in paths]


def touch(path: Path) -> None:
    """Change a file's content without changing what it does."""
    path.write_text(path.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")


def test_the_pipeline_modules_are_the_components_and_the_core_modules_they_import(project: Path) -> None:
    assert names(project, pipeline_modules(project)) == [
        "components/__init__.py",
        "components/chat_detector.py",
        "components/cjk_char_featurizer.py",
        "components/faq_selector.py",
        "components/fitted_arrays.py",
        "components/language_detector.py",
        "components/lexical_normalizer.py",
        "components/linear_intent_classifier.py",
        "components/message_tagger.py",
        "components/mixed_script_tokenizer.py",
        "core/__init__.py",
        "core/chat.py",
        "core/language.py",
    ]


def test_the_hash_is_stable_and_independent_of_the_folder(project: Path, tmp_path: Path) -> None:
    value = model_hash(project)
    assert len(value) == 16 and int(value, 16) >= 0
    assert model_hash(project) == value
    assert model_hash(copy_project(tmp_path / "other", PARTS, link_build=False)) == value


@pytest.mark.parametrize(
    "changed",
    ["core/language.py", "components/faq_selector.py", "config.yml", "data/rules.yml", "requirements.txt"],
)
def test_a_change_to_an_input_changes_the_hash(project: Path, changed: str) -> None:
    before = model_hash(project)
    touch(project / changed)
    assert model_hash(project) != before


@pytest.mark.parametrize("changed", ["core/menus.py", "core/guide.py", "actions/guide_actions.py"])
def test_a_change_to_a_module_the_pipeline_does_not_import_keeps_the_hash(project: Path, changed: str) -> None:
    before = model_hash(project)
    touch(project / changed)
    assert model_hash(project) == before


def test_a_new_import_brings_the_imported_module_and_its_imports_in(project: Path) -> None:
    detector = project / "components" / "language_detector.py"
    detector.write_text(
        detector.read_text(encoding="utf-8").replace(
            "from core.language import detect_language",
            "from core.language import detect_language\nfrom core import menus",
        ),
        encoding="utf-8",
    )
    modules = names(project, pipeline_modules(project))
    # menus imports phrases and guide, which import knowledge
    assert {"core/menus.py", "core/phrases.py", "core/guide.py", "core/knowledge.py"} <= set(modules)
    before = model_hash(project)
    touch(project / "core" / "knowledge.py")
    assert model_hash(project) != before


def test_relative_imports_and_package_inits_are_followed(tmp_path: Path) -> None:
    files = {
        "config.yml": "pipeline:\n  - name: WhitespaceTokenizer\n  - name: pkg.sub.comp.Comp\n    option: 1\n",
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "from . import registry\n",
        "pkg/sub/registry.py": "",
        "pkg/sub/comp.py": "import os\nfrom .helpers import thing\nfrom .. import shared\nfrom rasa.shared import x\n",
        "pkg/sub/helpers.py": "import lib.util\n",
        "pkg/shared.py": "",
        "pkg/unused.py": "",
        "lib/__init__.py": "",
        "lib/util.py": "",
        "lib/other.py": "",
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    assert names(tmp_path, pipeline_modules(tmp_path)) == [
        "lib/__init__.py",
        "lib/util.py",
        "pkg/__init__.py",
        "pkg/shared.py",
        "pkg/sub/__init__.py",
        "pkg/sub/comp.py",
        "pkg/sub/helpers.py",
        "pkg/sub/registry.py",
    ]
