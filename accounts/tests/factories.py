"""Factories for users and API tokens."""

import factory

from accounts.models import SubscriptionTier, User

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"trader{n}@example.com")
    full_name = factory.Faker("name")
    subscription_tier = SubscriptionTier.PRO
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()
