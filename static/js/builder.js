// The visual pipeline builder: a Drawflow canvas fed from the agent palette. The server renders
// each agent's config panel from its JSON Schema (htmx POST), checks the graph and saves it; this
// file keeps the canvas and the panel's values in step and shows the server's issues on nodes.
(function () {
  "use strict";

  var root = document.getElementById("builder");
  var container = document.getElementById("drawflow");
  if (!root || !container || !window.Drawflow) return;

  var palette = JSON.parse(document.getElementById("builder-palette").textContent);
  var initial = JSON.parse(document.getElementById("builder-graph").textContent) || {};
  var editor = new window.Drawflow(container);
  editor.reroute = false;
  editor.start();

  var dfByNode = {}; // our node id ("node-3") → Drawflow's numeric id
  var selected = null; // Drawflow id of the node whose panel is shown
  var seq = 0;
  var NODE_WIDTH = 190;

  function csrfHeaders() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (error) {
      return {};
    }
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function nodeHtml(agentType, nodeId) {
    var meta = palette[agentType] || { name: agentType, icon: "•", category: "" };
    return (
      '<div class="df-card" data-node-id="' + escapeHtml(nodeId) + '">' +
      '<div class="df-title"><span aria-hidden="true">' + escapeHtml(meta.icon) + "</span> " +
      escapeHtml(meta.name) + "</div>" +
      '<div class="df-sub">' + escapeHtml(nodeId) + "</div>" +
      (meta.category === "trigger"
        ? '<div class="df-note" data-signal-note' + (isOnSignal() ? "" : " hidden") +
          ">On signal: checked once for the signal's tickers; not met ends the run.</div>"
        : "") +
      '<div class="df-issue" hidden></div></div>'
    );
  }

  // In an on-signal pipeline a trigger never waits: the signal's tickers are checked once.
  function isOnSignal() {
    var select = document.querySelector("#builder-form [name=run_mode]");
    return !!select && select.value === "run_on_signal";
  }

  function showSignalNotes() {
    var on = isOnSignal();
    document.querySelectorAll("[data-signal-note]").forEach(function (note) {
      note.hidden = !on;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "run_mode") showSignalNotes();
  });
  document.addEventListener("htmx:afterSettle", showSignalNotes);

  function nextNodeId() {
    do {
      seq += 1;
    } while (dfByNode["node-" + seq]);
    return "node-" + seq;
  }

  function updateEmpty() {
    var empty = document.getElementById("canvas-empty");
    if (empty) empty.hidden = Object.keys(dfByNode).length > 0;
  }

  function addNode(agentType, x, y, config, nodeId) {
    var meta = palette[agentType];
    if (!meta) return null;
    nodeId = nodeId || nextNodeId();
    var data = { node_id: nodeId, agent_type: agentType, config: config || {} };
    var id = editor.addNode(
      agentType, meta.inputs, meta.outputs, x, y, "df-" + meta.category, data, nodeHtml(agentType, nodeId)
    );
    dfByNode[nodeId] = id;
    updateEmpty();
    return id;
  }

  function nodeData(dfId) {
    var node = editor.getNodeFromId(dfId);
    return node ? node.data : null;
  }

  function nodeElement(dfId) {
    return container.querySelector("#node-" + dfId);
  }

  function exportGraph() {
    var data = editor.export().drawflow.Home.data;
    var nodes = [];
    var edges = [];
    Object.keys(data).forEach(function (id) {
      var node = data[id];
      nodes.push({
        id: node.data.node_id,
        agent_type: node.data.agent_type,
        position: { x: Math.round(node.pos_x), y: Math.round(node.pos_y) },
        config: node.data.config || {},
      });
      Object.keys(node.outputs || {}).forEach(function (output) {
        (node.outputs[output].connections || []).forEach(function (connection) {
          var target = data[connection.node];
          if (target) edges.push({ from: node.data.node_id, to: target.data.node_id });
        });
      });
    });
    return { nodes: nodes, edges: edges };
  }

  // --- Fit the graph into view ---------------------------------------------------------------
  function fitView() {
    var data = editor.export().drawflow.Home.data;
    var ids = Object.keys(data);
    if (!ids.length) return;
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    ids.forEach(function (id) {
      minX = Math.min(minX, data[id].pos_x);
      minY = Math.min(minY, data[id].pos_y);
      maxX = Math.max(maxX, data[id].pos_x + NODE_WIDTH);
      maxY = Math.max(maxY, data[id].pos_y + 90);
    });
    var width = container.clientWidth, height = container.clientHeight, pad = 24;
    var zoom = Math.min(1, (width - 2 * pad) / (maxX - minX), (height - 2 * pad) / (maxY - minY));
    zoom = Math.max(0.5, zoom);
    // The canvas scales around its centre (Drawflow's transform origin).
    var cx = width / 2, cy = height / 2;
    editor.zoom = zoom;
    editor.zoom_last_value = zoom;
    editor.canvas_x = pad - (cx + (minX - cx) * zoom);
    editor.canvas_y = pad - (cy + (minY - cy) * zoom);
    editor.precanvas.style.transform =
      "translate(" + editor.canvas_x + "px, " + editor.canvas_y + "px) scale(" + zoom + ")";
  }

  // --- Load the saved (or template) graph ------------------------------------------------------
  (initial.nodes || []).forEach(function (node) {
    var match = /^node-(\d+)$/.exec(node.id || "");
    if (match) seq = Math.max(seq, parseInt(match[1], 10));
  });
  (initial.nodes || []).forEach(function (node) {
    var position = node.position || {};
    addNode(node.agent_type, position.x || 0, position.y || 0, node.config || {}, node.id);
  });
  (initial.edges || []).forEach(function (edge) {
    var from = dfByNode[edge.from], to = dfByNode[edge.to];
    if (from && to) {
      try {
        editor.addConnection(from, to, "output_1", "input_1");
      } catch (error) { /* a trigger has no input: the server reports the edge */ }
    }
  });
  updateEmpty();
  requestAnimationFrame(fitView);

  // --- The config panel ------------------------------------------------------------------------
  function markSelected(dfId) {
    container.querySelectorAll(".drawflow-node.is-selected").forEach(function (el) {
      el.classList.remove("is-selected");
    });
    var el = dfId ? nodeElement(dfId) : null;
    if (el) el.classList.add("is-selected");
  }

  // Panels load asynchronously: only the one asked for last may land (a slow answer for the
  // node selected before must not replace the panel of the node selected now).
  var panelRequest = 0;
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var headers = (event.detail.requestConfig || {}).headers || {};
    var asked = headers["X-Panel-Request"];
    if (asked !== undefined && String(asked) !== String(panelRequest)) {
      event.detail.shouldSwap = false;
    }
  });

  function loadPanel(dfId) {
    var data = nodeData(dfId);
    if (!data || !window.htmx) return;
    selected = dfId;
    markSelected(dfId);
    panelRequest += 1;
    var headers = csrfHeaders();
    headers["X-Panel-Request"] = String(panelRequest);
    window.htmx.ajax("POST", root.dataset.nodeUrl, {
      target: "#node-panel",
      swap: "outerHTML",
      headers: headers,
      values: {
        agent_type: data.agent_type,
        node_id: data.node_id,
        config: JSON.stringify(data.config || {}),
        graph: JSON.stringify(exportGraph()),
      },
    });
  }

  function emptyPanel() {
    selected = null;
    markSelected(null);
    var panel = document.getElementById("node-panel");
    if (panel) {
      panel.innerHTML =
        '<div class="node-panel-empty"><h2>Configure an agent</h2><p class="small muted">' +
        "Select an agent on the canvas to edit its settings here.</p></div>";
      panel.dataset.nodeId = "";
    }
  }

  function cast(value, type) {
    if (type === "integer") return parseInt(value, 10);
    if (type === "number") return parseFloat(value);
    return value;
  }

  function setPath(target, path, value) {
    var parts = path.split(".");
    var here = target;
    for (var i = 0; i < parts.length - 1; i++) {
      if (typeof here[parts[i]] !== "object" || here[parts[i]] === null) here[parts[i]] = {};
      here = here[parts[i]];
    }
    here[parts[parts.length - 1]] = value;
  }

  // The panel's inputs → the node's config, typed as the schema says (data-kind / data-item).
  function readConfig(form) {
    var config = {};
    form.querySelectorAll("[data-kind]").forEach(function (el) {
      var path = el.name.replace(/^cfg\./, "");
      var kind = el.dataset.kind;
      var item = el.dataset.item;
      var value;
      if (kind === "checkbox") {
        value = el.checked;
      } else if (kind === "multiselect") {
        value = Array.prototype.map.call(el.selectedOptions, function (o) { return cast(o.value, item); });
      } else if (kind === "number" || kind === "integer") {
        if (el.value === "") {
          if (!el.dataset.nullable) return;
          value = null;
        } else {
          value = kind === "integer" ? parseInt(el.value, 10) : parseFloat(el.value);
          if (isNaN(value)) return;
        }
      } else if (kind === "csv") {
        value = el.value.split(",").map(function (s) { return s.trim(); })
          .filter(Boolean).map(function (s) { return cast(s, item); });
      } else if (kind === "json") {
        if (el.value.trim() === "") return;
        try {
          value = JSON.parse(el.value);
          el.setCustomValidity("");
          el.removeAttribute("aria-invalid");
        } catch (error) {
          el.setCustomValidity("Not valid JSON");
          el.setAttribute("aria-invalid", "true");
          return;
        }
      } else if (kind === "select") {
        var option = el.selectedOptions[0];
        if (!option || option.hasAttribute("data-none")) return;
        value = cast(el.value, item === "string" ? "" : item);
      } else {
        if (el.value === "") return;
        value = el.value;
      }
      setPath(config, path, value);
    });
    return config;
  }

  function configChanged(event) {
    var form = event.target.closest && event.target.closest("#node-config-form");
    if (!form) return;
    var dfId = dfByNode[form.dataset.nodeId];
    var data = dfId ? nodeData(dfId) : null;
    if (!data) return;
    data.config = readConfig(form);
    editor.updateNodeDataFromId(dfId, data);
    // What the last check said about this node may no longer hold: check again to know.
    var el = nodeElement(dfId);
    if (el && (el.classList.contains("has-error") || el.classList.contains("has-warning"))) {
      el.classList.remove("has-error", "has-warning");
      el.classList.add("was-flagged");
      var badge = el.querySelector(".df-issue");
      if (badge) badge.hidden = true;
    }
    var field = event.target.closest(".cfg-field");
    if (field) field.classList.add("is-edited");
  }
  document.addEventListener("input", configChanged);
  document.addEventListener("change", configChanged);

  // Typing in the panel must never reach Drawflow's Delete-key handler.
  var panelWrap = document.getElementById("node-panel-wrap");
  if (panelWrap) {
    panelWrap.addEventListener("keydown", function (event) { event.stopPropagation(); });
  }

  // --- Adding agents ---------------------------------------------------------------------------
  function lastAdded() {
    var data = editor.export().drawflow.Home.data;
    var best = null;
    Object.keys(data).forEach(function (id) {
      if (!best || Number(id) > Number(best.id)) best = data[id];
    });
    return best;
  }

  // Where a new agent goes: right of the one it follows, or at the start of the next row when
  // that would leave the visible canvas (the graph reads as a snake, not a long thin line).
  function placeAfter(anchor) {
    if (!anchor) return { x: 60, y: 50 };
    var visibleWidth = container.clientWidth / (editor.zoom || 1);
    var x = anchor.pos_x + NODE_WIDTH + 50;
    if (x + NODE_WIDTH > visibleWidth - 20 - editor.canvas_x / (editor.zoom || 1)) {
      return { x: 60, y: anchor.pos_y + 120 };
    }
    return { x: x, y: anchor.pos_y };
  }

  // A palette entry may carry a preset config (a custom strategy: which one it runs).
  function presetOf(element) {
    var preset = element && element.getAttribute("data-agent-config");
    if (!preset) return {};
    try {
      return JSON.parse(preset);
    } catch (error) {
      return {};
    }
  }

  function addAfterSelected(agentType, config) {
    var anchor = selected ? editor.getNodeFromId(selected) : lastAdded();
    var spot = placeAfter(anchor);
    var x = spot.x;
    var y = spot.y;
    var id = addNode(agentType, x, y, config || {});
    if (!id) return;
    if (anchor && palette[agentType].inputs > 0 && Object.keys(anchor.outputs || {}).length) {
      try {
        editor.addConnection(anchor.id, id, "output_1", "input_1");
      } catch (error) { /* ignore */ }
    }
    loadPanel(id);
    scrollIntoView(id);
  }

  function scrollIntoView(dfId) {
    var el = nodeElement(dfId);
    if (!el) return;
    var box = el.getBoundingClientRect();
    var frame = container.getBoundingClientRect();
    if (box.right > frame.right || box.left < frame.left || box.bottom > frame.bottom) {
      fitView();
    }
  }

  root.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-agent]");
    if (add) {
      addAfterSelected(add.getAttribute("data-add-agent"), presetOf(add));
      return;
    }
    var zoom = event.target.closest("[data-zoom]");
    if (zoom) {
      var how = zoom.getAttribute("data-zoom");
      if (how === "in") editor.zoom_in();
      else if (how === "out") editor.zoom_out();
      else fitView();
      return;
    }
    var remove = event.target.closest("[data-remove-node]");
    if (remove) {
      var dfId = dfByNode[remove.getAttribute("data-remove-node")];
      if (dfId) editor.removeNodeId("node-" + dfId);
    }
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-select-node]");
    if (!link) return;
    var dfId = dfByNode[link.getAttribute("data-select-node")];
    if (dfId) {
      loadPanel(dfId);
      container.scrollIntoView({ block: "nearest" });
    }
  });

  // Drag from the palette onto the canvas.
  root.querySelectorAll(".palette-item[draggable]").forEach(function (item) {
    item.addEventListener("dragstart", function (event) {
      event.dataTransfer.setData("text/plain", item.getAttribute("data-agent-type"));
      event.dataTransfer.setData("application/x-agent-config", item.getAttribute("data-agent-config") || "");
      event.dataTransfer.effectAllowed = "copy";
    });
  });
  container.addEventListener("dragover", function (event) { event.preventDefault(); });
  container.addEventListener("drop", function (event) {
    event.preventDefault();
    var agentType = event.dataTransfer.getData("text/plain");
    if (!palette[agentType]) return;
    var box = editor.precanvas.getBoundingClientRect();
    var x = (event.clientX - box.x) / editor.zoom;
    var y = (event.clientY - box.y) / editor.zoom;
    var preset = event.dataTransfer.getData("application/x-agent-config");
    var config = {};
    try {
      config = preset ? JSON.parse(preset) : {};
    } catch (error) { /* no preset */ }
    var id = addNode(agentType, x - 20, y - 20, config);
    if (id) loadPanel(id);
  });

  editor.on("nodeSelected", function (dfId) {
    if (String(dfId) !== String(selected)) loadPanel(dfId);
  });
  // Drawflow announces a selection only when its own changes: a node whose panel was replaced
  // through a link ("Edit" on an issue) is still its selection, and a click on it must load it.
  container.addEventListener("click", function (event) {
    var el = event.target.closest && event.target.closest(".drawflow-node");
    if (!el || event.target.closest("[data-remove-node]")) return;
    var dfId = el.id.replace(/^node-/, "");
    if (String(dfId) !== String(selected)) loadPanel(dfId);
  });
  editor.on("nodeRemoved", function (dfId) {
    Object.keys(dfByNode).forEach(function (key) {
      if (String(dfByNode[key]) === String(dfId)) delete dfByNode[key];
    });
    if (String(selected) === String(dfId)) emptyPanel();
    updateEmpty();
  });

  // --- Checking and saving -----------------------------------------------------------------------
  function applyIssues() {
    var holder = document.getElementById("graph-issues-data");
    var issues = holder ? JSON.parse(holder.textContent || "[]") : [];
    container.querySelectorAll(".drawflow-node").forEach(function (el) {
      el.classList.remove("has-error", "has-warning");
      var badge = el.querySelector(".df-issue");
      if (badge) {
        badge.hidden = true;
        badge.textContent = "";
      }
    });
    issues.forEach(function (issue) {
      var dfId = issue.node_id && dfByNode[issue.node_id];
      var el = dfId ? nodeElement(dfId) : null;
      if (!el) return;
      var error = issue.level === "error";
      if (!error && el.classList.contains("has-error")) return;
      el.classList.add(error ? "has-error" : "has-warning");
      var badge = el.querySelector(".df-issue");
      if (badge && (badge.hidden || error)) {
        // "Bias Agent: confidence_threshold must be …" reads as "confidence_threshold must be …"
        // on the Bias Agent's own card.
        badge.textContent = String(issue.msg).replace(/^[^:]{1,60}: /, "");
        badge.hidden = false;
      }
    });
    // The selected node's panel shows the same messages next to its fields.
    if (selected && nodeData(selected)) loadPanel(selected);
  }

  var validateButton = document.getElementById("validate-graph");
  if (validateButton) {
    validateButton.addEventListener("click", function () {
      window.htmx.ajax("POST", root.dataset.validateUrl, {
        target: "#graph-issues",
        swap: "outerHTML",
        headers: csrfHeaders(),
        values: { graph: JSON.stringify(exportGraph()) },
      });
    });
  }

  function fillGraphInput() {
    var input = document.getElementById("graph-input");
    if (input) input.value = JSON.stringify(exportGraph());
  }
  document.addEventListener("submit", function (event) {
    if (event.target.id === "builder-form") fillGraphInput();
  }, true);
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "builder-form") {
      event.detail.parameters.graph = JSON.stringify(exportGraph());
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (target && (target.id === "graph-issues" || target.id === "builder-form")) applyIssues();
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "graph-issues") setTimeout(applyIssues, 0);
  });

  window.addEventListener("resize", function () {
    if (!Object.keys(dfByNode).length) return;
    clearTimeout(window.__tcFit);
    window.__tcFit = setTimeout(fitView, 200);
  });

  // For tests and the curious: the graph as the server will receive it.
  root.tcExportGraph = exportGraph;
})();
