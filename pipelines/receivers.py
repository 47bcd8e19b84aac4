"""Receivers of other apps' Django signals."""

from pipelines.blueprints import demo_pipelines_seed


def demo_pipelines_on_seed(sender, user, created, **kwargs):
    demo_pipelines_seed(owner=user)
