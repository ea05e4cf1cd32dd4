"""AG-UI: every team speaks the agent-user interaction protocol, as a view of its runs.

Needs the ``agui`` extra (``ag-ui-protocol``): the events are the SDK's own types.
"""

from troupe.server.agui._encode import AguiView, interrupt_id
from troupe.server.agui._routes import agui_handlers

__all__ = ["AguiView", "agui_handlers", "interrupt_id"]
