"""Django signals custom strategies send upward (billing listens; agents never import billing).

- `llm_allowance_requested(owner=…)`: receivers return the USD the owner may still spend today
  (None: no limit); generation and review refuse a call that would exceed it.
- `llm_spent(owner=…, agent_id=…, calls=[LLMCall…])`: the metered calls to charge to the ledger.
"""

from django.dispatch import Signal

llm_allowance_requested = Signal()
llm_spent = Signal()
