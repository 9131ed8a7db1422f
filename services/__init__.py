"""Use cases: one transaction each; load, apply the rules of `models`, persist, audit, notify.

The CLI, the ASGI app and the Prefect flows all call these functions, so a rule holds identically
from every door. Each function takes the session as a keyword argument and `now` explicitly.
"""
