"""User (e-mail login, subscription tier, budgets) and personal API tokens."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone as django_timezone

from accounts.crypto import EncryptedTextField


class SubscriptionTier(models.TextChoices):
    FREE = "FREE", "Free"
    BASIC = "BASIC", "Basic"
    PRO = "PRO", "Pro"
    ENTERPRISE = "ENTERPRISE", "Enterprise"


class UserStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields) -> User:
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username: str) -> User:
        # E-mail log-in is case-insensitive: addresses are stored lower-cased.
        return self.get(email=(username or "").strip().lower())


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=255, blank=True)
    subscription_tier = models.CharField(
        max_length=20, choices=SubscriptionTier.choices, default=SubscriptionTier.FREE
    )
    status = models.CharField(max_length=20, choices=UserStatus.choices, default=UserStatus.ACTIVE)
    # Django's auth reads is_active; it mirrors `status` (kept in step by save()).
    is_active = models.BooleanField(default=True, editable=False)
    is_staff = models.BooleanField(default=False)
    budget_limit_daily = models.DecimalField(
        "daily budget (USD)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Agent and LLM spend allowed per day; empty means no limit.",
    )
    budget_limit_monthly = models.DecimalField(
        "monthly budget (USD)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Agent and LLM spend allowed per calendar month; empty means no limit.",
    )
    timezone = models.CharField(max_length=64, default="America/New_York")
    date_joined = models.DateTimeField(default=django_timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        self.is_active = self.status == UserStatus.ACTIVE
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            update_fields = set(kwargs["update_fields"])
            if "status" in update_fields:
                update_fields.add("is_active")
            kwargs["update_fields"] = update_fields
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name.split() or [self.email])[0]


class APITokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class APIToken(models.Model):
    """A personal API token for scripts and webhooks; only its SHA-256 is stored."""

    PREFIX = "tc_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    # The first characters of the token, shown in lists so a user can tell tokens apart.
    display_prefix = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = APITokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix}…)"

    @staticmethod
    def hash_token(raw_token: str) -> str:
        return hashlib.sha256(raw_token.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class BrokerAccountType(models.TextChoices):
    PAPER = "paper", "Paper"
    LIVE = "live", "Live"


class BrokerStatus(models.TextChoices):
    UNVERIFIED = "unverified", "Not verified yet"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Verification failed"


class BrokerConnection(models.Model):
    """A user's brokerage API credentials. The key and secret are encrypted at rest and never
    shown again after entry — only their last four characters."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="broker_connections")
    broker = models.CharField(max_length=20, default="alpaca", choices=[("alpaca", "Alpaca")])
    account_type = models.CharField(max_length=10, choices=BrokerAccountType.choices)
    label = models.CharField(max_length=100, blank=True)
    api_key = EncryptedTextField()
    api_secret = EncryptedTextField()
    key_last4 = models.CharField(max_length=4)
    status = models.CharField(
        max_length=12, choices=BrokerStatus.choices, default=BrokerStatus.UNVERIFIED
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    account_number = models.CharField(max_length=64, blank=True)
    account_equity = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account_type", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "broker", "account_type"], name="one_connection_per_broker_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_broker_display()} {self.get_account_type_display()} (…{self.key_last4})"

    @property
    def is_verified(self) -> bool:
        return self.status == BrokerStatus.VERIFIED


class NotificationLevel(models.TextChoices):
    INFO = "info", "Info"
    SUCCESS = "success", "Success"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class Notification(models.Model):
    """An in-app message for a user (limit hits, end-of-day actions, failures)."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    level = models.CharField(
        max_length=10, choices=NotificationLevel.choices, default=NotificationLevel.INFO
    )
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)
    # What raised it, e.g. "limit:max_trades_per_day", so repeats can be recognised.
    kind = models.CharField(max_length=120, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "read_at"])]

    def __str__(self) -> str:
        return self.title


class ChannelKind(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    DISCORD = "discord", "Discord"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"


class TraderEvent(models.TextChoices):
    """What a trader can choose to hear about on a channel."""

    FILLS = "fills", "Fills (a trade opened)"
    STOPS = "stops", "Stops hit"
    TARGETS = "targets", "Targets hit"
    ERRORS = "errors", "Failed runs"
    BUDGET = "budget", "Budget refusals"
    DAILY_SUMMARY = "daily_summary", "Daily summary"


class NotificationChannel(models.Model):
    """Where a trader hears about events besides the bell icon and e-mail: a Telegram chat, a
    Discord or Slack webhook, or any webhook. The Apprise URL holds the secret (bot token,
    webhook token), so it is stored encrypted like broker keys; `hint` is what the page shows."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_channels")
    kind = models.CharField(max_length=12, choices=ChannelKind.choices)
    label = models.CharField(max_length=100, blank=True)
    target = EncryptedTextField()
    hint = models.CharField(max_length=120)
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    failures = models.PositiveIntegerField(default=0)
    # The trading session whose end-of-day summary this channel last got (sent once per day).
    summary_sent_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["owner", "enabled"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.label or self.hint})"
