"""HTTP API for word vectors (FastAPI). Build the app with :func:`service.app.create_app`.

``service`` imports ``embed``; ``embed`` never imports ``service``.
"""
