"""corral inside a coding agent's lifecycle: the hooks an agent runs when a session starts, when
it ends and before each shell command, and the instructions and settings ``corral agent setup``
writes for it.

- ``commands``: the pure matcher that tells whether a shell command starts a service directly,
  kills one by port or name, or follows its log without end.
- ``brief``: the text a new session reads (what runs, since when, started by whom, what is stale).
- ``hooks``: the three hooks, bounded and failing open.
- ``setup``: writing and removing the hook settings and the marked instruction sections.
"""
