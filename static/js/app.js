// Tradecrew page behaviour shared by every page: the confirmation dialog for dangerous actions,
// live updates over websockets (htmx ws extension) with a polling fallback, toasts.
(function () {
  "use strict";

  // --- Confirmation dialog ---------------------------------------------------------------------
  // <form data-confirm="…"> and <a data-confirm="…" data-confirm-post> open #confirm-dialog.
  // Optional: data-confirm-title, data-confirm-button, data-confirm-check (a box to tick first),
  // data-confirm-consequences ("first|second"). Confirming posts confirmed=yes; the server
  // enforces it (an unconfirmed POST gets a confirmation page instead).
  var pending = null;

  function dialogParts() {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog) return null;
    return {
      dialog: dialog,
      title: document.getElementById("confirm-title"),
      message: document.getElementById("confirm-message"),
      consequences: document.getElementById("confirm-consequences"),
      checkLabel: document.getElementById("confirm-check-label"),
      check: document.getElementById("confirm-check"),
      checkText: document.getElementById("confirm-check-text"),
      form: document.getElementById("confirm-form"),
      ok: document.getElementById("confirm-ok"),
    };
  }

  function openConfirm(source, onConfirm) {
    var parts = dialogParts();
    if (!parts) return false;
    parts.title.textContent = source.getAttribute("data-confirm-title") || "Are you sure?";
    parts.message.textContent = source.getAttribute("data-confirm") || "";
    var items = (source.getAttribute("data-confirm-consequences") || "").split("|").filter(Boolean);
    parts.consequences.innerHTML = "";
    items.forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      parts.consequences.appendChild(li);
    });
    parts.consequences.hidden = items.length === 0;
    var check = source.getAttribute("data-confirm-check");
    parts.checkLabel.hidden = !check;
    parts.check.checked = false;
    parts.checkText.textContent = check || "";
    parts.ok.textContent = source.getAttribute("data-confirm-button") || "Confirm";
    parts.ok.disabled = !!check;
    pending = onConfirm;
    parts.dialog.showModal();
    (check ? parts.check : parts.ok).focus();
    return true;
  }

  function closeConfirm() {
    var parts = dialogParts();
    if (parts && parts.dialog.open) parts.dialog.close();
    pending = null;
  }

  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "confirm-check") {
      document.getElementById("confirm-ok").disabled = !event.target.checked;
    }
  });

  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-dialog-cancel]");
    if (cancel) {
      event.preventDefault();
      closeConfirm();
      return;
    }
    var link = event.target.closest && event.target.closest("a[data-confirm-post]");
    if (link) {
      event.preventDefault();
      openConfirm(link, function (parts) {
        parts.form.action = link.getAttribute("data-confirm-post") || link.href;
        parts.form.submit();
      });
    }
  });

  // The dialog's own form: either posts itself (links) or submits the form that asked.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id === "confirm-form") {
      event.preventDefault();
      var parts = dialogParts();
      var action = pending;
      if (parts.checkLabel.hidden === false && !parts.check.checked) return;
      parts.dialog.close();
      pending = null;
      if (action) action(parts);
      return;
    }
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question || form.dataset.confirmed) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    var submitter = event.submitter || null;
    openConfirm(form, function (parts) {
      // A live update may have swapped the form out while the dialog was open (a progress card
      // polling or pushed): submit its replacement, else post the dialog's own form there.
      if (!form.isConnected) {
        var action = form.getAttribute("action");
        var current = Array.prototype.find.call(document.querySelectorAll("form[data-confirm]"), function (f) {
          return f.getAttribute("action") === action;
        });
        if (!current) {
          parts.form.action = action;
          parts.form.submit();
          return;
        }
        form = current;
      }
      var flag = form.querySelector("input[name=confirmed]");
      if (!flag) {
        flag = document.createElement("input");
        flag.type = "hidden";
        flag.name = "confirmed";
        form.appendChild(flag);
      }
      flag.value = "yes";
      form.dataset.confirmed = "1";
      if (form.requestSubmit) form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
      else form.submit();
      delete form.dataset.confirmed;
    });
  }, true);

  document.addEventListener("close", function (event) {
    if (event.target && event.target.id === "confirm-dialog") pending = null;
  }, true);

  // --- Live updates --------------------------------------------------------------------------
  // A socket element (ws-connect) names what to refresh while it is down: data-poll="#a,#b".
  // Each of those has hx-get and hx-trigger="poll-refresh". Down → refresh every 5 s; (back) up
  // → stop, and refresh once to catch up with what was missed.
  var POLL_MS = 5000;
  var pollers = new WeakMap();

  function pollTargets(socketElt) {
    var selectors = (socketElt.getAttribute("data-poll") || "").split(",").filter(Boolean);
    var targets = [];
    selectors.forEach(function (selector) {
      document.querySelectorAll(selector.trim()).forEach(function (el) { targets.push(el); });
    });
    return targets;
  }

  function refresh(socketElt) {
    if (!window.htmx) return;
    pollTargets(socketElt).forEach(function (el) { window.htmx.trigger(el, "poll-refresh"); });
  }

  function setIndicators(state) {
    document.querySelectorAll("[data-live-indicator]").forEach(function (el) {
      el.dataset.state = state;
      el.textContent = state === "live" ? "● Live" : state === "connecting" ? "○ Connecting…" : "○ Reconnecting — refreshing every 5 s";
      el.title = state === "live" ? "Updates arrive as they happen." : "The live connection is down; the page refreshes itself every 5 seconds meanwhile.";
    });
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    var elt = event.target;
    var timer = pollers.get(elt);
    if (timer) {
      clearInterval(timer);
      pollers.delete(elt);
    }
    // Catch up once with whatever happened between rendering the page (or losing the socket)
    // and this subscription: a run started from the previous page may already be going.
    refresh(elt);
    elt.dataset.opened = "1";
    document.body.classList.remove("ws-down");
    setIndicators("live");
  });

  // The ws extension reconnects after abnormal closes (1006, 1011–1013); a server that says
  // goodbye cleanly (a restart, a proxy timeout) is reconnected to as well, a little later.
  // 44xx closes mean "not yours / log in": polling takes over instead.
  document.addEventListener("htmx:wsClose", function (event) {
    var detail = event.detail || {};
    var code = detail.event && detail.event.code;
    var wrapper = detail.socketWrapper;
    if (!wrapper || [1000, 1001, 1005].indexOf(code) < 0) return;
    var elt = event.target;
    setTimeout(function () {
      if (document.body.contains(elt)) wrapper.reconnect();
    }, 6000 + Math.random() * 3000);
  });

  function socketDown(event) {
    var elt = event.target;
    if (!pollTargets(elt).length) return;
    document.body.classList.add("ws-down");
    setIndicators("down");
    if (!pollers.get(elt)) pollers.set(elt, setInterval(function () { refresh(elt); }, POLL_MS));
  }
  document.addEventListener("htmx:wsClose", socketDown);
  document.addEventListener("htmx:wsError", socketDown);

  // A pushed row whose target is not on the page yet (a new position, a new run) gets an empty
  // shell in the container it names (data-upsert-into, data-upsert-at="afterbegin"), which the
  // out-of-band swap then fills. A row with no place on this page is dropped quietly.
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail && event.detail.message;
    if (typeof message !== "string" || message.indexOf("data-upsert-into") < 0) return;
    var template = document.createElement("template");
    template.innerHTML = message;
    var placeable = 0;
    var total = 0;
    Array.prototype.forEach.call(template.content.children, function (el) {
      if (!el.id) return;
      total += 1;
      if (document.getElementById(el.id)) {
        placeable += 1;
        return;
      }
      var container = document.querySelector(el.getAttribute("data-upsert-into") || "#-none-");
      if (!container) return;
      // A paged table takes in only rows that belong on its page (trading/presenters.py
      // upsert_since): none on an older page, rows opened since its oldest on the newest page.
      var since = container.getAttribute("data-upsert-since");
      if (since === "none") return;
      if (since && Number(el.getAttribute("data-opened") || 0) < Number(since)) return;
      var shell = el.cloneNode(false);
      shell.removeAttribute("hx-swap-oob");
      container.insertAdjacentElement(el.getAttribute("data-upsert-at") || "beforeend", shell);
      placeable += 1;
    });
    if (total && !placeable) event.preventDefault();
  });

  // Toasts fade away by themselves.
  document.addEventListener("animationend", function (event) {
    if (event.target.classList && event.target.classList.contains("toast")) event.target.remove();
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[ws-connect]")) setIndicators("connecting");
  });
})();

// Print buttons (a run report's PDF/print version): the print stylesheet drops the navigation.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-print]");
  if (button) window.print();
});
