// Analytics charts (TradingView Lightweight Charts, vendored): the equity curve with the
// drawdown underneath, and the comparison's equity curves rebased to 100. Data comes from a
// <script type="application/json"> block rendered with the partial, so a partial swapped in by
// htmx (period or mode change, a trade closing) redraws from its own data.
(function () {
  "use strict";

  var PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626"];

  function themeOptions() {
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    return {
      layout: { background: { color: "transparent" }, textColor: dark ? "#cbd5e1" : "#334155", fontSize: 11 },
      grid: {
        vertLines: { color: dark ? "rgba(148,163,184,.12)" : "rgba(100,116,139,.12)" },
        horzLines: { color: dark ? "rgba(148,163,184,.12)" : "rgba(100,116,139,.12)" },
      },
      timeScale: { borderVisible: false },
      rightPriceScale: { borderVisible: false },
      autoSize: true,
    };
  }

  function fresh(box) {
    if (box.__chart) { box.__chart.remove(); box.__chart = null; }
    var chart = window.LightweightCharts.createChart(box, themeOptions());
    box.__chart = chart;
    return chart;
  }

  function drawEquity(root) {
    var source = root.querySelector("#analytics-series");
    var equityBox = root.querySelector("[data-equity-chart]");
    var drawdownBox = root.querySelector("[data-drawdown-chart]");
    if (!source || !equityBox || !drawdownBox) return;
    var data = JSON.parse(source.textContent || "{}");
    var equity = fresh(equityBox);
    equity.addLineSeries({ color: PALETTE[0], lineWidth: 2, priceFormat: { type: "price", precision: 2, minMove: 0.01 } })
      .setData(data.equity || []);
    var drawdown = fresh(drawdownBox);
    drawdown.addAreaSeries({
      lineColor: "#dc2626", topColor: "rgba(220,38,38,.05)", bottomColor: "rgba(220,38,38,.35)",
      lineWidth: 1, invertFilledArea: true,
      priceFormat: { type: "custom", formatter: function (v) { return v.toFixed(2) + "%"; } },
    }).setData(data.drawdown || []);
    equity.timeScale().fitContent();
    drawdown.timeScale().fitContent();
    // One time axis for both: scrolling the equity scrolls the drawdown with it.
    equity.timeScale().subscribeVisibleLogicalRangeChange(function (range) {
      if (range) drawdown.timeScale().setVisibleLogicalRange(range);
    });
    equityBox.dataset.drawn = "1";
  }

  function drawComparison(root) {
    var source = root.querySelector("#compare-series");
    var box = root.querySelector("[data-compare-chart]");
    if (!source || !box) return;
    var lines = JSON.parse(source.textContent || "[]");
    var chart = fresh(box);
    if (box.dataset.axis === "elapsed") {
      // Backtests replay other years than a pipeline's record: each curve starts at day 0.
      var ORIGIN = 946684800; // 2000-01-01, an arbitrary day 0
      var dayOf = function (t) { return "day " + Math.round((t - ORIGIN) / 86400); };
      lines = lines.map(function (line) {
        var first = line.data && line.data.length ? Date.parse(line.data[0].time) / 1000 : 0;
        return { name: line.name, data: (line.data || []).map(function (p) {
          return { time: ORIGIN + (Date.parse(p.time) / 1000 - first), value: p.value };
        }) };
      });
      chart.applyOptions({ timeScale: { tickMarkFormatter: dayOf }, localization: { timeFormatter: dayOf } });
    }
    lines.forEach(function (line, i) {
      chart.addLineSeries({ color: PALETTE[i % PALETTE.length], lineWidth: 2, title: line.name }).setData(line.data || []);
    });
    chart.timeScale().fitContent();
    box.dataset.drawn = "1";
  }

  function scan() {
    if (!window.LightweightCharts) return;
    drawEquity(document);
    drawComparison(document);
  }

  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:afterSettle", scan);
  // A closed trade arrives over the websocket as a signal: refresh the live partial, which is
  // rendered by the same view that rendered it on load, for the period and mode on screen.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "analytics-signal" && window.htmx) {
      var live = document.getElementById("analytics-live");
      if (live) window.htmx.trigger(live, "poll-refresh");
    }
  });
})();
