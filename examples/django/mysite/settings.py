"""Settings of the example project (the stand-in manage.py reads none of them)."""

DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
