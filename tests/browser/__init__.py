"""End-to-end tests in headless Chromium against a live daphne server and a real Celery worker."""
