/* Dashboard: equity chart (own SVG, no library, CSP-safe) and a periodic status refresh. */
(function () {
  "use strict";
  var SVG_NS = "http://www.w3.org/2000/svg";
  var HEIGHT = 260, PAD_L = 78, PAD_R = 12, PAD_T = 12, PAD_B = 28;

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG_NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function fmtMoney(value) {
    return value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function drawChart(box, points) {
    while (box.firstChild) { box.removeChild(box.firstChild); }
    if (!points.length) {
      var empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = "No equity samples in this range.";
      box.appendChild(empty);
      return;
    }
    // Draw in the box's own pixel size so text is never stretched.
    var WIDTH = Math.max(box.clientWidth || 800, 280);
    var xs = points.map(function (p) { return Date.parse(p.ts_utc); });
    // Display only: the server keeps equity as a decimal string.
    var ys = points.map(function (p) { return Number(p.equity); });
    var xMin = Math.min.apply(null, xs), xMax = Math.max.apply(null, xs);
    var yMin = Math.min.apply(null, ys), yMax = Math.max.apply(null, ys);
    if (xMax === xMin) { xMax = xMin + 1; }
    if (yMax === yMin) { yMax = yMin + 1; yMin = yMin - 1; }
    var sx = function (x) { return PAD_L + (x - xMin) / (xMax - xMin) * (WIDTH - PAD_L - PAD_R); };
    var sy = function (y) { return PAD_T + (yMax - y) / (yMax - yMin) * (HEIGHT - PAD_T - PAD_B); };
    var svg = el("svg", { viewBox: "0 0 " + WIDTH + " " + HEIGHT, role: "img",
                          width: WIDTH, height: HEIGHT, "class": "equity-svg" });
    svg.appendChild(el("title", {}, "Equity from " + points[0].ts_utc + " to " +
                       points[points.length - 1].ts_utc));
    [yMin, (yMin + yMax) / 2, yMax].forEach(function (v) {
      svg.appendChild(el("line", { x1: PAD_L, x2: WIDTH - PAD_R, y1: sy(v), y2: sy(v), "class": "grid" }));
      svg.appendChild(el("text", { x: PAD_L - 6, y: sy(v) + 4, "class": "axis", "text-anchor": "end" }, fmtMoney(v)));
    });
    svg.appendChild(el("text", { x: PAD_L, y: HEIGHT - 8, "class": "axis" }, points[0].ts_utc.slice(0, 16).replace("T", " ")));
    svg.appendChild(el("text", { x: WIDTH - PAD_R, y: HEIGHT - 8, "class": "axis", "text-anchor": "end" },
                       points[points.length - 1].ts_utc.slice(0, 16).replace("T", " ")));
    var coords = points.map(function (p, i) { return sx(xs[i]).toFixed(1) + "," + sy(ys[i]).toFixed(1); });
    svg.appendChild(el("polyline", { points: coords.join(" "), "class": "equity-line",
                                     "data-points": String(points.length) }));
    points.forEach(function (p, i) {
      var dot = el("circle", { cx: sx(xs[i]), cy: sy(ys[i]), r: 2.5, "class": "equity-dot" });
      dot.appendChild(el("title", {}, p.ts_utc + "  " + p.equity));
      svg.appendChild(dot);
    });
    box.appendChild(svg);
  }

  function loadChart(root, range) {
    var box = document.getElementById("equity-chart");
    fetch(root.getAttribute("data-equity-url") + "?range=" + encodeURIComponent(range),
          { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { points: [] }; })
      .then(function (body) { drawChart(box, body.points || []); })
      .catch(function () { drawChart(box, []); });
  }

  function dig(obj, path) {
    return path.split(".").reduce(function (acc, key) {
      return acc && typeof acc === "object" && key in acc ? acc[key] : undefined;
    }, obj);
  }

  function refreshStatus(root) {
    fetch(root.getAttribute("data-status-url"), { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (status) {
        if (!status) { return; }
        document.getElementById("stale-banner").classList.toggle("hidden", !status.stale);
        document.querySelectorAll("[data-status]").forEach(function (node) {
          var value = dig(status, node.getAttribute("data-status"));
          if (value !== undefined && value !== null) { node.textContent = String(value); }
        });
        if (status.bot_state_live) {
          var pill = document.getElementById("dash-state");
          pill.textContent = status.bot_state_live;
          pill.className = "state-pill state-" + status.bot_state_live;
        }
      })
      .catch(function () { document.getElementById("stale-banner").classList.remove("hidden"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("dashboard");
    if (!root) { return; }
    document.querySelectorAll(".range-buttons .range").forEach(function (button) {
      button.addEventListener("click", function () {
        document.querySelectorAll(".range-buttons .range").forEach(function (b) { b.classList.remove("active"); });
        button.classList.add("active");
        loadChart(root, button.getAttribute("data-range"));
      });
    });
    loadChart(root, "1m");
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(function () {
        var active = document.querySelector(".range-buttons .range.active");
        loadChart(root, active ? active.getAttribute("data-range") : "1m");
      }, 250);
    });
    window.setInterval(function () { refreshStatus(root); }, 15000);
  });
})();
