"""Getting a supervisor running: the launcher (in the client, under the spawn lock), the prelaunch
of a cold start, and the guard (its own small process above the supervisor)."""
