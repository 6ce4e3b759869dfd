"""What client processes do (the CLI, the MCP server, the dashboard, agent hooks): the operations
on services, doctor, ls, nuke, tethers and failure diagnosis. Never imports ``corral.supervisor``:
it talks to the supervisor through its socket. Empty on purpose: the status fast path imports
``control.diagnosis`` and must not pay for the rest."""
