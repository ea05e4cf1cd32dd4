"""The Chainlit app ``troupe chainlit`` runs: ``chainlit run`` works on this file too.

Configured by environment variables: ``TROUPE_SERVER`` (default
``http://127.0.0.1:8000``), ``TROUPE_API_KEY``, and ``TROUPE_TEAM`` to offer a
single team instead of one chat profile per team.
"""

from __future__ import annotations

from chainlit.config import config

from troupe.adapters.chainlit import TroupeChainlit

troupe = TroupeChainlit.from_env().attach()
# Editing an earlier message would rerun it in Chainlit, but the server's
# conversation already holds the original and cannot be rewound.
config.features.edit_message = False
