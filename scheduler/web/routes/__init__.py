"""The app's routers: pages (HTML), the JSON API under ``/api/v1``, operations (health, metrics)."""
