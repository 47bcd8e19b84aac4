// Candlestick charts (TradingView Lightweight Charts, vendored) for runs and positions: the
// candles, the entry / stop / target levels as price lines and the fills as markers. Data comes
// from a <script type="application/json"> block named by data-charts.
(function () {
  "use strict";

  var COLORS = { entry: "#2563eb", stop: "#dc2626", target: "#16a34a" };

  function themeOptions() {
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    return {
      layout: {
        background: { color: "transparent" },
        textColor: dark ? "#cbd5e1" : "#334155",
        fontSize: 11,
      },
      grid: {
        vertLines: { color: dark ? "rgba(148,163,184,.12)" : "rgba(100,116,139,.12)" },
        horzLines: { color: dark ? "rgba(148,163,184,.12)" : "rgba(100,116,139,.12)" },
      },
      timeScale: { timeVisible: true, secondsVisible: false, borderVisible: false },
      rightPriceScale: { borderVisible: false },
      autoSize: true,
    };
  }

  function snap(at, times) {
    if (at == null || !times.length) return null;
    var best = times[0];
    for (var i = 0; i < times.length; i++) {
      if (times[i] <= at) best = times[i];
      else break;
    }
    return best;
  }

  function draw(box, spec, timeframe) {
    var LC = window.LightweightCharts;
    if (box.__chart) {
      box.__chart.remove();
      box.__chart = null;
    }
    var chart = LC.createChart(box, themeOptions());
    box.__chart = chart;
    var series = chart.addCandlestickSeries({
      upColor: "#16a34a", downColor: "#dc2626", borderVisible: false,
      wickUpColor: "#16a34a", wickDownColor: "#dc2626",
    });
    var candles = (spec.candles[timeframe] || []).map(function (c) {
      return { time: c[0], open: c[1], high: c[2], low: c[3], close: c[4] };
    });
    series.setData(candles);
    // Keep every level on screen: a target far from the candles is still worth seeing.
    var prices = (spec.levels || []).map(function (level) { return Number(level.price); })
      .filter(function (price) { return isFinite(price); });
    if (prices.length) {
      var low = Math.min.apply(null, prices);
      var high = Math.max.apply(null, prices);
      series.applyOptions({
        autoscaleInfoProvider: function (original) {
          var info = original();
          if (info && info.priceRange) {
            info.priceRange.minValue = Math.min(info.priceRange.minValue, low);
            info.priceRange.maxValue = Math.max(info.priceRange.maxValue, high);
          }
          return info;
        },
      });
    }
    (spec.levels || []).forEach(function (level) {
      series.createPriceLine({
        price: Number(level.price),
        color: COLORS[level.kind] || "#64748b",
        lineWidth: 1,
        lineStyle: LC.LineStyle ? LC.LineStyle.Dashed : 2,
        axisLabelVisible: true,
        title: level.title,
      });
    });
    var times = candles.map(function (c) { return c.time; });
    drawSegments(chart, spec.segments || [], times);
    var markers = (spec.markers || []).map(function (m) {
      var at = snap(m.at, times);
      return at == null ? null : {
        time: at,
        position: m.buy ? "belowBar" : "aboveBar",
        color: m.buy ? "#16a34a" : "#dc2626",
        shape: m.buy ? "arrowUp" : "arrowDown",
        text: m.text,
      };
    }).filter(Boolean).sort(function (a, b) { return a.time - b.time; });
    if (markers.length) series.setMarkers(markers);
    chart.timeScale().fitContent();
  }

  // Each trade's stop and targets as a dashed segment over the bars it was open: one line
  // series per kind. Lightweight Charts draws a line across whitespace, so the stretch from one
  // trade's exit to the next one's entry is drawn transparent instead (a point's colour is the
  // colour of the line leaving it).
  function drawSegments(chart, segments, times) {
    var LC = window.LightweightCharts;
    var byKind = {};
    segments.forEach(function (s) { (byKind[s.kind] = byKind[s.kind] || []).push(s); });
    Object.keys(byKind).forEach(function (kind) {
      var color = COLORS[kind.split("_")[0]] || "#64748b";
      var data = [];
      var lastTime = -Infinity;
      byKind[kind].sort(function (a, b) { return a.from - b.from; }).forEach(function (s) {
        var from = snap(s.from, times);
        var to = snap(s.to, times);
        if (from == null || to == null || from <= lastTime) return;
        if (to > from) data.push({ time: from, value: s.price, color: color });
        data.push({ time: to, value: s.price, color: "rgba(0,0,0,0)" });
        lastTime = to;
      });
      if (!data.length) return;
      chart.addLineSeries({
        color: color, lineWidth: 1,
        lineStyle: LC.LineStyle ? LC.LineStyle.Dashed : 2,
        lastValueVisible: false, priceLineVisible: false, crosshairMarkerVisible: false,
      }).setData(data);
    });
  }

  function build(list) {
    if (list.dataset.built || !window.LightweightCharts) return;
    var source = document.getElementById(list.getAttribute("data-charts"));
    if (!source) return;
    list.dataset.built = "1";
    var specs = JSON.parse(source.textContent || "[]");
    specs.forEach(function (spec) {
      var card = document.createElement("article");
      card.className = "chart-card";
      var head = document.createElement("div");
      head.className = "chart-head";
      var title = document.createElement("strong");
      title.textContent = spec.symbol;
      head.appendChild(title);
      var box = document.createElement("div");
      box.className = "chart-box";
      box.setAttribute("role", "img");
      box.setAttribute("aria-label", spec.symbol + " candlestick chart with entry, stop and targets");
      if ((spec.timeframes || []).length > 1) {
        var group = document.createElement("div");
        group.className = "chart-timeframes";
        group.setAttribute("role", "group");
        group.setAttribute("aria-label", "Timeframe");
        spec.timeframes.forEach(function (tf) {
          var button = document.createElement("button");
          button.type = "button";
          button.textContent = tf;
          button.className = "outline secondary";
          button.setAttribute("aria-pressed", tf === spec.default ? "true" : "false");
          button.addEventListener("click", function () {
            group.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
            button.setAttribute("aria-pressed", "true");
            draw(box, spec, tf);
          });
          group.appendChild(button);
        });
        head.appendChild(group);
      }
      card.appendChild(head);
      card.appendChild(box);
      list.appendChild(card);
      draw(box, spec, spec.default);
    });
  }

  function scan(root) {
    (root || document).querySelectorAll("[data-charts]").forEach(build);
  }

  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.detail && event.detail.elt); });
  document.addEventListener("htmx:oobAfterSwap", function () { scan(document); });
  document.addEventListener("htmx:afterSettle", function () { scan(document); });
})();
