"""The bundled demo news site, served on 127.0.0.1 and archived locally."""

DEMO_PORT = 8765  # the first demo site's port; the second is on the next one
