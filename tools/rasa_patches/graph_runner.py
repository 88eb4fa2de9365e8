"""Patch 8 of `tools.rasa_patches` (issue 15): Rasa's graphs run without dask's scheduler.

For every message Rasa runs its NLU graph once and its policy graph once per action (three runs a
turn here) through `DaskGraphRunner.run`, which works out the targets' minimal schema anew, builds a
dask graph of it and hands it to `dask.get` to order and execute: a scheduler for what is a chain of
a dozen calls. `run_graph_in_order` executes the same nodes, every node of the minimal schema once,
each after the nodes it takes its inputs from, with the arguments dask gives it (a parent's
`(name, output)`, a run input as `(name, value)`, the bare name of what nothing provides), and raises
what Rasa's run raises. Only the order of nodes that don't depend on each other may differ from
dask's, and a node receives nothing but its parents' outputs.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text


def execution_order(schema: Any, targets: List[Text]) -> List[Text]:
    """Every node of `schema.minimal_graph_schema(targets)`, each after the nodes it needs."""
    minimal = schema.minimal_graph_schema(targets)
    order: List[Text] = []
    seen = set()

    def visit(name: Text) -> None:
        if name in seen or name not in minimal.nodes:
            return
        seen.add(name)
        for parent in minimal.nodes[name].needs.values():
            visit(parent)
        order.append(name)

    for name in minimal.nodes:
        visit(name)
    return order


def run_graph_in_order(
    self: Any, inputs: Optional[Dict[Text, Any]] = None, targets: Optional[List[Text]] = None
) -> Dict[Text, Any]:
    """Rasa's `DaskGraphRunner.run`: the targets' outputs, each node of their minimal schema run once
    (the order is worked out once per set of targets)."""
    from rasa.engine.exceptions import GraphRunError

    run_targets = list(targets if targets else self._graph_schema.target_names)
    orders: Dict[tuple, List[Text]] = self.__dict__.setdefault("_orders_by_targets", {})
    order = orders.get(tuple(run_targets))
    if order is None:
        order = orders[tuple(run_targets)] = execution_order(self._graph_schema, run_targets)
    values: Dict[Text, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and (value in order or value in values):  # Rasa's check, as it makes it
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure "
                f"that none of the input names passed to the `run` method are the "
                f"same as node names in the graph schema."
            )
        values[name] = (name, value)  # an input replaces the node of its name, as in Rasa's dask graph
    try:
        for name in order:
            if name not in values:
                needs = self._graph_schema.nodes[name].needs.values()
                values[name] = self._instantiated_nodes[name](*(values.get(parent, parent) for parent in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(values[target] for target in run_targets)  # each output is (node name, value), as dask's
