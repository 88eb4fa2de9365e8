"""tools/rasa_patches/graph_runner.py runs a graph as Rasa's dask runner does: the same outputs, every
node of the targets' minimal schema once and after its parents, inputs in place of nodes, the same
errors; on small graphs of recording components."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import pytest
from rasa.engine.exceptions import GraphComponentException
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

from tools import rasa_patches
from tools.rasa_patches.graph_runner import execution_order, run_graph_in_order

ORIGINALS = rasa_patches._RASA_ORIGINALS
CALLS: List[Text] = []


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    rasa_patches.apply()


class Combine(GraphComponent):
    """Records its call and returns its name with what it received, in order."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.name = config["name"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "Combine":
        return cls(config)

    def run(self, **received: Any) -> Any:
        CALLS.append(self.name)
        if self.name == "broken":
            raise RuntimeError("broken node")
        if self.name == "refuses":
            raise ValueError("refuses")
        return (self.name, *[received[key] for key in sorted(received)])


def node(name: Text, *needs: Text) -> SchemaNode:
    return SchemaNode(
        needs={f"in{i}": need for i, need in enumerate(needs)},
        uses=Combine,
        fn="run",
        constructor_name="create",
        config={"name": name},
        is_target=False,
    )


SCHEMA = GraphSchema(
    {
        "tokens": node("tokens", "__message__"),
        "words": node("words", "tokens"),
        "chars": node("chars", "tokens"),
        "intent": node("intent", "words", "chars"),
        "faq": node("faq", "words", "chars", "intent"),
        "policy_a": node("policy_a", "__tracker__", "domain"),
        "policy_b": node("policy_b", "__tracker__", "domain"),
        "domain": node("domain"),
        "select": node("select", "policy_b", "policy_a", "domain"),
        "unused": node("unused", "tokens"),
        "broken": node("broken", "tokens"),
        "refuses": node("refuses"),
        "needs_nothing_given": node("needs_nothing_given", "__nowhere__"),
    }
)


def runner(tmp_path: Path) -> DaskGraphRunner:
    return DaskGraphRunner(SCHEMA, LocalModelStorage(tmp_path), ExecutionContext(SCHEMA, "graph-runner"))


def both(tmp_path: Path, inputs: Optional[Dict[Text, Any]], targets: Optional[List[Text]]) -> List[Any]:
    """Rasa's run and ours on the same runner: (outputs or the error, the nodes called) of each."""
    graph = runner(tmp_path)
    results = []
    for run in (ORIGINALS["graph_run"], run_graph_in_order):
        CALLS.clear()
        try:
            outcome: Any = run(graph, inputs, targets)
        except Exception as error:  # noqa: BLE001 - the error is what is compared
            outcome = (type(error), str(error))
        results.append((outcome, sorted(CALLS), list(CALLS)))
    return results


@pytest.mark.parametrize(
    "inputs, targets",
    [
        ({"__message__": "hello"}, ["faq", "intent"]),
        ({"__message__": "hello"}, ["faq"]),
        ({"__tracker__": {"events": 3}}, ["select"]),
        ({"__tracker__": {"events": 3}, "domain": "given"}, ["select"]),  # an input replaces a node
        ({"__message__": "hello", "__tracker__": 1}, ["select", "faq", "words"]),
        ({"__message__": "hello"}, ["tokens", "__message__"]),  # an input as a target
        ({}, ["needs_nothing_given"]),  # a need nothing provides: Rasa's "missing input" error
        ({"__message__": "hello"}, ["broken"]),  # a node's error, as the node wraps it
        ({}, ["refuses"]),  # any other error as the node raises it
        ({"__message__": "intent"}, ["faq"]),  # an input whose value is a node's name
        ({"__message__": "x"}, ["no_such_node"]),
    ],
)
def test_our_run_gives_what_rasas_gives(tmp_path: Path, inputs: Dict[Text, Any], targets: List[Text]) -> None:
    (rasa_outcome, rasa_called, _), (our_outcome, our_called, our_order) = both(tmp_path, inputs, targets)
    assert our_outcome == rasa_outcome
    assert our_called == rasa_called  # the same nodes, each once
    for name in our_order:  # each after its parents
        parents = [p for p in SCHEMA.nodes[name].needs.values() if p in SCHEMA.nodes and p not in inputs]
        assert all(our_order.index(p) < our_order.index(name) for p in parents)


def test_the_outputs_and_errors_are_those_of_the_nodes(tmp_path: Path) -> None:
    graph = runner(tmp_path)
    outputs = run_graph_in_order(graph, {"__message__": "hi"}, ["intent"])
    assert outputs == {"intent": ("intent", ("words", ("tokens", "hi")), ("chars", ("tokens", "hi")))}
    with pytest.raises(GraphComponentException, match="node broken"):  # Rasa's node wraps what it raises
        run_graph_in_order(graph, {"__message__": "hi"}, ["broken"])
    with pytest.raises(GraphComponentException, match="refuses"):
        run_graph_in_order(graph, {}, ["refuses"])


def test_the_order_is_worked_out_once_per_set_of_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    graph, worked_out = runner(tmp_path), []
    monkeypatch.setattr(
        "tools.rasa_patches.graph_runner.execution_order",
        lambda schema, targets: worked_out.append(targets) or execution_order(schema, targets),
    )
    for _ in range(3):
        run_graph_in_order(graph, {"__tracker__": 1}, ["select"])
        run_graph_in_order(graph, {"__message__": "hi"}, ["faq"])
    assert worked_out == [["select"], ["faq"]]


def test_the_patch_is_installed_as_rasas_run() -> None:
    assert DaskGraphRunner.run is run_graph_in_order
