"""smgov's doors: the `smgov` command line and the ASGI app. No rule lives here."""
