"""A2A: every team is an A2A agent (card + JSON-RPC), its tasks views of its runs.

Needs the ``a2a`` extra (``a2a-sdk``): requests and answers are the SDK's own types.
"""

from troupe.server.a2a._routes import a2a_handlers, a2a_public_handlers, agent_card

__all__ = ["a2a_handlers", "a2a_public_handlers", "agent_card"]
