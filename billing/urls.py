"""Billing pages: /billing/ (plan, limits, usage, estimates' accuracy), Checkout, the Customer
Portal, and Stripe's webhook endpoint."""

from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("", views.billing_overview, name="overview"),
    path("checkout/", views.billing_checkout, name="checkout"),
    path("portal/", views.billing_portal, name="portal"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
]
