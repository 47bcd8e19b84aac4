"""Loopback fakes of the chat services Apprise talks to: Telegram's Bot API, Discord and Slack
incoming webhooks, and a generic JSON webhook. Point NOTIFY_*_API_URL at `url`."""

from __future__ import annotations

from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response


class FakeChatServices(FakeHTTPServer):
    """Records what each service received; `messages(service)` lists the decoded bodies."""

    def __init__(self):
        super().__init__()
        self.add_route("POST", r"^/bot(?P<token>[^/]+)/sendMessage$", self._telegram)
        self.add_route(
            "POST", r"^/api/webhooks/(?P<webhook_id>\d+)/(?P<token>[^/]+)$", self._discord
        )
        self.add_route("POST", r"^/services/(?P<a>\w+)/(?P<b>\w+)/(?P<c>\w+)$", self._slack)
        self.add_route("POST", r"^/hooks/(?P<name>[\w-]+)$", self._webhook)

    def _telegram(self, request: RecordedRequest, token: str):
        body = request.json
        return {
            "ok": True,
            "result": {"message_id": len(self.requests), "chat": {"id": body.get("chat_id")}},
        }

    def _discord(self, request: RecordedRequest, webhook_id: str, token: str):
        return Response(204)

    def _slack(self, request: RecordedRequest, a: str, b: str, c: str):
        return Response(200, "ok", content_type="text/plain")

    def _webhook(self, request: RecordedRequest, name: str):
        return {"received": True}

    def messages(self, service: str) -> list[dict]:
        prefixes = {"telegram": "/bot", "discord": "/api/webhooks/", "slack": "/services/"}
        prefix = prefixes.get(service, "/hooks/")
        return [
            r.json for r in self.requests if r.path.startswith(prefix) and 200 <= r.status < 300
        ]
