"""smgov's data model and pure domain core.

Tables (SQLModel) and the rules of ST/SGB "Institutional use of social media": clock and deadline
maths, completeness of a registry entry (3.4), reminder stages, rule registry. Nothing here opens a
session, reads the system clock on its own or imports Prefect: services pass everything in.
"""
