"""Who can pass to whom, drawn: a layered SVG of a graph's edges or a swarm's handoffs.

The drawing is made on the server from the team's definition, so the page needs no
layout library: agents are boxes in layers (breadth first from where the team starts),
edges are arrows; an edge that goes back up (a loop) curves around the side.
"""

from __future__ import annotations

__all__ = ["Edge", "edges_of", "team_svg"]

from collections import deque
from html import escape
from typing import NamedTuple

from troupe.agents import AssistantAgent
from troupe.teams import Team
from troupe.teams.graph import GraphTeam

BOX_W, BOX_H = 150, 40
GAP_X, GAP_Y = 36, 70
PAD = 24


class Edge(NamedTuple):
    source: str
    target: str
    label: str


def edges_of(team: Team) -> list[Edge] | None:
    """The team's arrows, or None for kinds whose order is not a drawing (round robin,
    selector)."""
    if isinstance(team, GraphTeam):
        return [Edge(edge.source, edge.target, _condition(edge.condition)) for edge in team.edges]
    if team.kind == "swarm":
        return [
            Edge(agent.name, handoff.target, "")
            for agent in team.agents
            if isinstance(agent, AssistantAgent)
            for handoff in agent.handoffs.values()
        ]
    return None


def _condition(condition: object) -> str:
    if condition is None:
        return ""
    if isinstance(condition, str):
        return f"when the message says {condition!r}"
    return f"when {getattr(condition, '__name__', 'a predicate')}(message)"


def _layers(nodes: list[str], edges: list[Edge], entry: list[str]) -> dict[str, int]:
    nexts: dict[str, list[str]] = {node: [] for node in nodes}
    for edge in edges:
        nexts[edge.source].append(edge.target)
    layer: dict[str, int] = {}
    queue = deque(node for node in entry if node in nexts)
    for node in queue:
        layer[node] = 0
    while queue:
        node = queue.popleft()
        for target in nexts[node]:
            if target not in layer:
                layer[target] = layer[node] + 1
                queue.append(target)
    deepest = max(layer.values(), default=-1)
    for node in nodes:  # nothing leads there: a row of its own at the bottom
        layer.setdefault(node, deepest + 1)
    return layer


def team_svg(team: Team) -> str | None:
    """The team's drawing as an ``<svg>`` element, or None when it has no arrows to draw."""
    edges = edges_of(team)
    if edges is None:
        return None
    nodes = [agent.name for agent in team.agents]
    nodes += sorted({e.target for e in edges if e.target not in nodes})  # e.g. "user"
    entry = list(getattr(team, "entry", None) or [nodes[0]])
    layer = _layers(nodes, edges, entry)
    rows: dict[int, list[str]] = {}
    for node in nodes:
        rows.setdefault(layer[node], []).append(node)
    widest = max(len(row) for row in rows.values())
    width = PAD * 2 + widest * BOX_W + (widest - 1) * GAP_X + 60
    height = PAD * 2 + len(rows) * BOX_H + (len(rows) - 1) * GAP_Y
    where: dict[str, tuple[float, float]] = {}
    for depth, row in rows.items():
        row_width = len(row) * BOX_W + (len(row) - 1) * GAP_X
        left = (width - row_width) / 2
        for i, node in enumerate(row):
            where[node] = (left + i * (BOX_W + GAP_X), PAD + depth * (BOX_H + GAP_Y))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="team-graph" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'aria-label="{escape(team.name)}: who can pass to whom">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrow-head"/></marker></defs>',
    ]
    for edge in edges:
        parts.append(_arrow(edge, where, layer))
    for node in nodes:
        x, y = where[node]
        kind = "user" if node not in team.by_name else "entry" if node in entry else "agent"
        parts.append(
            f'<g class="node node-{kind}" data-agent="{escape(node)}">'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="8"/>'
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + BOX_H / 2 + 5:.0f}" '
            f'text-anchor="middle">{escape(node)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _arrow(edge: Edge, where: dict[str, tuple[float, float]], layer: dict[str, int]) -> str:
    (sx, sy), (tx, ty) = where[edge.source], where[edge.target]
    title = f"<title>{escape(edge.source)} → {escape(edge.target)}"
    title += f": {escape(edge.label)}</title>" if edge.label else "</title>"
    if layer[edge.target] > layer[edge.source]:
        x1, y1 = sx + BOX_W / 2, sy + BOX_H
        x2, y2 = tx + BOX_W / 2, ty
        path = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"
    else:  # back up, or along the same row: around the right-hand side
        x1, y1 = sx + BOX_W, sy + BOX_H / 2
        x2, y2 = tx + BOX_W, ty + BOX_H / 2 - (6 if edge.source == edge.target else 0)
        bend = max(x1, x2) + 40 + 10 * abs(layer[edge.source] - layer[edge.target])
        path = f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
    return (
        f'<path class="edge" data-from="{escape(edge.source)}" data-to="{escape(edge.target)}" '
        f'd="{path}" marker-end="url(#arrow)">{title}</path>'
    )
