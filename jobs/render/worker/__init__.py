"""The worker's side: one render job (runner), the engines this server offers and their
options (engines), and the steps before rendering (preparation)."""
