"""Account pages: sign-up, log-in, log-out, settings (profile, budgets, API tokens)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import APITokenForm, LoginForm, ProfileForm, SignupForm


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _add_errors(form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def login_view(request):
    if request.user.is_authenticated:
        return redirect(_safe_next(request, reverse("dashboard")))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_authenticate(
                request=request,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except services.AccountLockedOut as error:
            return render(request, "accounts/locked_out.html", {"message": str(error)}, status=403)
        except services.InvalidCredentials:
            form.add_error(None, "That e-mail and password do not match an account.")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_safe_next(request, reverse("dashboard")))
    return render(request, "accounts/login.html", {"form": form, "next": _safe_next(request, "")})


def signup_view(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data["full_name"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to Tradecrew. Your account is ready.")
            return redirect("dashboard")
    return render(request, "accounts/signup.html", {"form": form})


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, "You are logged out.")
    return redirect("accounts:login")


@login_required
def settings_view(request):
    profile_form = ProfileForm(instance=request.user)
    token_form = APITokenForm()
    new_token = None
    if request.method == "POST" and request.POST.get("form") == "profile":
        profile_form = ProfileForm(request.POST, instance=request.user)
        if profile_form.is_valid():
            data = profile_form.cleaned_data
            try:
                services.user_update_profile(
                    user=request.user,
                    full_name=data["full_name"],
                    timezone_name=data["timezone"],
                    budget_limit_daily=data["budget_limit_daily"],
                    budget_limit_monthly=data["budget_limit_monthly"],
                )
            except ValidationError as error:
                request.user.refresh_from_db()
                _add_errors(profile_form, error)
            else:
                messages.success(request, "Profile saved.")
                return redirect("accounts:settings")
    elif request.method == "POST" and request.POST.get("form") == "token":
        token_form = APITokenForm(request.POST)
        if token_form.is_valid():
            _, new_token = services.api_token_create(
                user=request.user, name=token_form.cleaned_data["name"]
            )
            token_form = APITokenForm()
    context = {
        "profile_form": profile_form,
        "token_form": token_form,
        "new_token": new_token,
        "tokens": selectors.api_tokens_for_user(user=request.user),
    }
    return render(request, "accounts/settings.html", context)


@login_required
@require_POST
def api_token_revoke_view(request, token_id: int):
    try:
        token = selectors.api_token_get(user=request.user, token_id=token_id)
    except Exception:
        messages.error(request, "That token does not exist or is already revoked.")
        return redirect("accounts:settings")
    services.api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked; requests using it now get 401.")
    return redirect("accounts:settings")
