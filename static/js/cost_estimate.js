// The builder's live cost estimate (spec §9.5): whenever the graph, the run mode, the schedule or
// the symbols change, ask the API what the pipeline would cost and show it per run, day and
// month, with the budget warnings and a per-agent breakdown.
(function () {
  "use strict";

  var box = document.getElementById("cost-estimate");
  var root = document.getElementById("builder");
  if (!box || !root) return;
  var last = null;
  var pending = null;

  function field(name) {
    var el = document.querySelector('#builder-form [name="' + name + '"]');
    return el ? el.value : "";
  }

  function request() {
    var graph = root.tcExportGraph ? root.tcExportGraph() : { nodes: [], edges: [] };
    var schedule = null;
    var kind = field("schedule_type");
    if (kind) {
      schedule = { schedule_type: kind };
      if (field("cron_expression")) schedule.cron_expression = field("cron_expression");
      if (field("interval_minutes")) schedule.interval_minutes = parseInt(field("interval_minutes"), 10);
      if (field("start_time") && field("end_time")) {
        schedule.start_time = field("start_time");
        schedule.end_time = field("end_time");
      }
      if (field("max_trades_per_day")) schedule.max_trades_per_day = parseInt(field("max_trades_per_day"), 10);
    }
    var symbols = field("symbols").replace(/,/g, " ").split(/\s+/).filter(Boolean);
    return { graph: graph, run_mode: field("run_mode") || "run_once", schedule: schedule, symbols: symbols };
  }

  function money(value) {
    var amount = Number(value);
    if (amount > 0 && amount < 0.005) return "< $0.01";
    return "$" + amount.toFixed(2);
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function render(data) {
    var runs = data.daily_executions_range;
    var perDay = runs[0] === runs[1] ? runs[0] + " run" + (runs[0] === 1 ? "" : "s") : runs[0] + "–" + runs[1] + " runs";
    var day = data.daily_cost_range, month = data.monthly_cost_range;
    var perRun = Number(data.cost_per_execution);
    var runText = perRun > 0 && perRun < 0.005 ? "under $0.01" : "≈ " + money(perRun);
    var html = '<p><strong data-testid="estimate-per-run">' + runText + " a run</strong> · " +
      (day[0] === day[1] ? money(day[1]) : money(day[0]) + "–" + money(day[1])) + " a day (" + perDay + ") · " +
      money(month[1]) + " a month at most" +
      ' <span class="small muted">(' + escapeHtml(data.confidence) + " confidence" +
      (data.from_history ? ", from your own runs" : "") + ")</span></p>";
    if (data.budget.warnings.length) {
      html += '<ul class="errorlist" data-testid="estimate-warnings">' + data.budget.warnings.map(function (w) {
        return "<li>" + escapeHtml(w) + "</li>";
      }).join("") + "</ul>";
    }
    html += '<details><summary class="small">Per agent</summary><div class="table-wrap"><table class="small"><thead><tr><th>Agent</th><th>Run</th><th>Day</th><th>Month</th></tr></thead><tbody>' +
      data.agents.map(function (a) {
        return "<tr><td>" + escapeHtml(a.agent_type) + (a.model ? " (" + escapeHtml(a.model) + ")" : "") + "</td><td>" +
          money(a.per_run) + "</td><td>" + money(a.per_day[1]) + "</td><td>" + money(a.per_month[1]) + "</td></tr>";
      }).join("") + "</tbody></table></div></details>";
    box.innerHTML = html;
  }

  function headers() {
    var result = { "Content-Type": "application/json" };
    try {
      var extra = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      Object.keys(extra).forEach(function (k) { result[k] = extra[k]; });
    } catch (error) { /* no CSRF header: the API answers 403 and the box says so */ }
    return result;
  }

  function incomplete(payload) {
    // A schedule still being typed: say what is missing instead of asking the API (which would
    // answer 422 for it).
    var schedule = payload.schedule;
    if (schedule && schedule.schedule_type === "cron" && !schedule.cron_expression) return "a cron expression";
    if (schedule && schedule.schedule_type === "interval" && !schedule.interval_minutes) return "the interval in minutes";
    return null;
  }

  function refresh() {
    var payload = request();
    var body = JSON.stringify(payload);
    if (body === last) return;
    last = body;
    var missing = incomplete(payload);
    if (missing) {
      box.innerHTML = '<p class="small muted">Enter ' + missing + " to see the estimate.</p>";
      return;
    }
    fetch(box.dataset.url, { method: "POST", headers: headers(), body: body, credentials: "same-origin" })
      .then(function (response) { return response.json().then(function (data) { return [response.ok, data]; }); })
      .then(function (result) {
        if (result[0]) {
          render(result[1]);
        } else {
          var detail = result[1].detail;
          box.innerHTML = '<p class="small errorlist">Cannot estimate yet: ' +
            escapeHtml(typeof detail === "string" ? detail : JSON.stringify(detail)) + "</p>";
        }
      })
      .catch(function () { last = null; });
  }

  function soon() {
    clearTimeout(pending);
    pending = setTimeout(refresh, 400);
  }

  // The canvas has no single change event: look for changes twice a second (cheap: the request
  // only goes out when the graph or the settings differ from the last one estimated).
  setInterval(soon, 1500);
  document.addEventListener("input", soon);
  document.addEventListener("change", soon);
  soon();
})();
