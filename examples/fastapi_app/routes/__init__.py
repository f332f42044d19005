"""The routers; ``main.create_app`` includes them all."""

from . import downloads, health, jobs, progress, reports, tasks

ROUTERS = (
    downloads.router,
    reports.router,
    tasks.router,
    jobs.router,
    progress.router,
    health.router,
)

__all__ = ["ROUTERS"]
