"""A small FastAPI application that runs its background work on quiv.

Layout, as a bigger app would have it:

- ``main``: the app factory and the lifespan that starts and stops the scheduler;
- ``scheduler``: builds the ``Quiv`` instance and wires its events to the progress feed;
- ``settings``: configuration from environment variables;
- ``logs``: the job id on every log line, through a ``ContextVar`` and a logging filter;
- ``feed``: fan-out of progress and lifecycle messages to WebSocket clients, on the main loop;
- ``errors``: quiv's lookup errors mapped to HTTP responses;
- ``tasks/``: the job handlers; ``routes/``: the routers.

Run it from the repository root with ``uv run uvicorn examples.fastapi_app.main:app``.
"""
