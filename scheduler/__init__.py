"""The application shell: CLI, control loop, policy and the web dashboard."""

__all__: list[str] = []
