"""Prefect flows, one module per process. Flows orchestrate and stay thin: the work is in services,
in a few tasks of set-based SQL (never one task per account). Every flow is idempotent."""
