// Draws a spate job report from the JSON embedded in the page (#report-data). Every
// drawn stage carries a data-stage attribute (statement:stage) and every task bar a
// data-task attribute (statement:stage:task:attempt), so tests can check that all are
// there; #report-rendered, added last, holds the counts drawn and the time drawing took.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var R = JSON.parse(document.getElementById("report-data").textContent);
  var root = document.getElementById("report");

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function sv(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function add(parent, child) { parent.appendChild(child); return child; }
  function num(n) { return Number(n).toLocaleString("en-US"); }
  function bytes(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }
  function secs(s) { return s < 1 ? (s * 1000).toFixed(1) + " ms" : s.toFixed(3) + " s"; }
  function money(x) { return x.toFixed(x < 0.01 ? 6 : 4) + " " + R.rates.currency; }
  function short(op) { return op.replace(/Exec$/, ""); }
  // White to red by a stage's share of the statement's task time.
  function heat(share) {
    var t = Math.max(0, Math.min(1, share));
    var r = Math.round(235 + (217 - 235) * t), g = Math.round(242 + (83 - 242) * t),
        b = Math.round(250 + (79 - 250) * t);
    return "rgb(" + r + "," + g + "," + b + ")";
  }
  function stageColour(id) { return "hsl(" + ((id * 137) % 360) + ",55%,58%)"; }
  // The operators worth naming on a box: joins, aggregates, sorts, windows, scans first.
  function mainOperators(ops) {
    var skip = /^(CoalesceBatches|Projection|Repartition|CoalescePartitions|Cooperative)/;
    var seen = {}, out = [];
    ops.map(short).forEach(function (o) {
      if (!skip.test(o) && !seen[o]) { seen[o] = true; out.push(o); }
    });
    return out.length ? out : ops.map(short).slice(0, 1);
  }
  function marks(st) {
    var m = [], a = st.adaptive, r = st.recovery;
    if (a.broadcast_joins > 0 || st.absorbed.length) m.push("broadcast");
    if (a.reads) {
      if (a.reads.tasks_after < a.reads.partitions_before) m.push("coalesced " + a.reads.partitions_before + "\u2192" + a.reads.tasks_after);
      if (a.reads.skewed_partitions > 0) m.push("skew split \u00d7" + a.reads.skew_slices);
      if (a.reads.empty_skipped > 0) m.push(a.reads.empty_skipped + " empty skipped");
    }
    if (a.scan_splits > 0) m.push("scan split \u00d7" + a.scan_splits);
    if (a.runtime_filters > 0) m.push("runtime filter");
    if (a.join_splits > 0) m.push("join split \u00d7" + a.join_splits);
    if (r.failed_attempts > 0) m.push("retried \u00d7" + r.failed_attempts);
    if (r.recomputed_tasks > 0) m.push("recomputed \u00d7" + r.recomputed_tasks);
    if (r.stage_reruns > 0) m.push("rerun \u00d7" + r.stage_reruns);
    if (st.skewed) m.push("skewed");
    if (st.end === "failed" || st.end === "cancelled") m.push(st.end);
    return m;
  }

  function stageGraph(parent, si, s) {
    var byId = {}, depth = {};
    s.stages.forEach(function (st) { byId[st.id] = st; });
    function d(id, seen) {
      if (depth[id] !== undefined) return depth[id];
      var st = byId[id];
      if (!st || seen[id]) return 0;
      seen[id] = true;
      var x = 0;
      st.inputs.forEach(function (e) { if (byId[e.stage]) x = Math.max(x, d(e.stage, seen) + 1); });
      depth[id] = x;
      return x;
    }
    var columns = [];
    s.stages.forEach(function (st) {
      var c = d(st.id, {});
      (columns[c] = columns[c] || []).push(st);
    });
    var BW = 250, BH = 96, GX = 90, GY = 26, pos = {};
    var rows = Math.max.apply(null, columns.map(function (c) { return c ? c.length : 0; }));
    var width = columns.length * (BW + GX) + 20, height = rows * (BH + GY) + 20;
    var svg = sv("svg", { width: width, height: height, "class": "stage-graph" });
    columns.forEach(function (col, c) {
      (col || []).forEach(function (st, r) { pos[st.id] = { x: 10 + c * (BW + GX), y: 10 + r * (BH + GY) }; });
    });
    s.stages.forEach(function (st) {
      st.inputs.forEach(function (e) {
        var a = pos[e.stage], b = pos[st.id];
        if (!a || !b) return;
        var x1 = a.x + BW, y1 = a.y + BH / 2, x2 = b.x, y2 = b.y + BH / 2, mx = (x1 + x2) / 2;
        add(svg, sv("path", { "class": "edge", "data-edge": si + ":" + e.stage + ":" + st.id,
          d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2,
          "marker-end": "url(#arrow)" }));
        add(svg, sv("text", { "class": "edge-label", x: mx, y: (y1 + y2) / 2 - 4, "text-anchor": "middle" },
          num(e.rows) + " rows"));
        add(svg, sv("text", { "class": "edge-label", x: mx, y: (y1 + y2) / 2 + 8, "text-anchor": "middle" },
          bytes(e.bytes)));
      });
    });
    var defs = add(svg, sv("defs"));
    var marker = add(defs, sv("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 6, markerHeight: 6, orient: "auto" }));
    add(marker, sv("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8a94a8" }));
    s.stages.forEach(function (st) {
      var p = pos[st.id];
      var g = add(svg, sv("g", { "class": "stage", "data-stage": si + ":" + st.id,
        transform: "translate(" + p.x + "," + p.y + ")" }));
      add(g, sv("title", {}, "stage " + st.id + ": " + st.operators.map(short).join(" \u2190 ") +
        "\n" + st.output + "\n" + Math.round(st.time_share * 100) + "% of the task time"));
      add(g, sv("rect", { "class": "box", width: BW, height: BH, rx: 6, fill: heat(st.time_share) }));
      add(g, sv("text", { "class": "title", x: 8, y: 16 }, "Stage " + st.id + " \u00b7 " + st.tasks +
        " task" + (st.tasks === 1 ? "" : "s") + " \u00b7 " + secs(st.elapsed_seconds)));
      var ops = mainOperators(st.operators);
      ops.slice(0, 3).forEach(function (o, i) {
        add(g, sv("text", { x: 8, y: 32 + i * 13 }, o + (i === 2 && ops.length > 3 ? " \u2026" : "")));
      });
      add(g, sv("text", { x: 8, y: 74, "class": "sub" }, st.output + " \u00b7 " + num(st.rows_out) + " rows"));
      var m = marks(st);
      if (m.length) add(g, sv("text", { "class": "badge", x: 8, y: 88 }, m.join(" \u00b7 ")));
    });
    add(add(parent, el("div", { "class": "scroll" })), svg);
  }

  function timeline(parent, si, s) {
    var end = s.elapsed_seconds;
    s.tasks.forEach(function (t) { end = Math.max(end, t.end); });
    end = end || 1;
    // A cluster's lanes are named by executor and slot; spate's own are its workers.
    var labels = s.lane_labels || [];
    function laneName(l) { return labels[l] || "worker " + l; }
    var LH = 14, LEFT = 54, W = 1100, lanes = Math.max(1, s.lanes);
    labels.forEach(function (n) { LEFT = Math.max(LEFT, 6 * n.length + 8); });
    var svg = sv("svg", { width: LEFT + W + 40, height: lanes * LH + 30, "class": "timeline" });
    var x = function (t) { return LEFT + (t / end) * W; };
    for (var k = 0; k <= 10; k++) {
      var tx = x(end * k / 10);
      add(svg, sv("line", { "class": "tick", x1: tx, x2: tx, y1: 0, y2: lanes * LH }));
      add(svg, sv("text", { "class": "lane-label", x: tx, y: lanes * LH + 14, "text-anchor": "middle" }, secs(end * k / 10)));
    }
    for (var l = 0; l < lanes; l++) {
      add(svg, sv("text", { "class": "lane-label", x: 2, y: l * LH + 11 }, laneName(l)));
    }
    // Bars are built off the document and added at once; their tooltip is one element
    // filled on hover (a <title> per bar costs too much with thousands of tasks).
    var bars = document.createDocumentFragment();
    s.tasks.forEach(function (t, i) {
      var cls = "task " + t.outcome + (t.retried ? " retried" : "") + (t.split ? " split" : "") +
        (t.cancelled ? " cancelled" : "");
      bars.appendChild(sv("rect", { "class": cls, "data-task": si + ":" + t.stage + ":" + t.task + ":" + t.attempt,
        "data-i": i, x: x(t.start), y: t.lane * LH + 1, width: Math.max(1, x(t.end) - x(t.start)),
        height: LH - 2, fill: stageColour(t.stage) }));
    });
    svg.appendChild(bars);
    var box = add(parent, el("div", { "class": "scroll" }));
    add(box, svg);
    var tip = add(box, el("div", { "class": "tip" }, "Hover a bar for its task."));
    svg.addEventListener("mouseover", function (event) {
      var i = event.target.getAttribute("data-i");
      if (i === null) return;
      var t = s.tasks[Number(i)];
      tip.textContent = "stage " + t.stage + " task " + t.task + " attempt " + t.attempt + " (" + t.outcome +
        (t.split ? ", split" : "") + "), " + laneName(t.lane) + ": " + secs(t.start) + " \u2192 " + secs(t.end) +
        ", " + num(t.rows) + " rows, CPU " + secs(t.cpu_seconds) + ", peak " + bytes(t.peak_memory_bytes);
    });
    var legend = add(parent, el("div", { "class": "legend" }));
    s.stages.forEach(function (st) {
      var span = add(legend, el("span"));
      add(span, el("span", { "class": "swatch", style: "background:" + stageColour(st.id) }));
      add(span, document.createTextNode("stage " + st.id));
    });
    add(legend, el("span", {}, "red outline: retried \u00b7 dashed: split off a scan \u00b7 faded: failed, cancelled or discarded"));
  }

  function table(parent, headers, rows) {
    var t = add(add(parent, el("div", { "class": "scroll" })), el("table"));
    var hr = add(add(t, el("thead")), el("tr"));
    headers.forEach(function (h) { add(hr, el("th", {}, h)); });
    var body = add(t, el("tbody"));
    rows.forEach(function (r) {
      var tr = add(body, el("tr", r.attrs || {}));
      r.cells.forEach(function (c) {
        var td = add(tr, el("td", {}, c.text !== undefined ? c.text : c));
        if (c.cls) td.setAttribute("class", c.cls);
      });
    });
    return t;
  }

  function stageTable(parent, si, s) {
    table(parent, ["stage", "operators", "tasks", "rows in", "bytes in", "scanned", "rows out", "bytes out",
      "shuffle mem", "spilled", "peak mem", "CPU", "task time min / median / max", "skew", "adaptive", "ended"],
      s.stages.map(function (st) {
        var rowsIn = 0, bytesIn = 0;
        st.inputs.forEach(function (e) { rowsIn += e.rows; bytesIn += e.bytes; });
        var tt = st.task_time;
        return { attrs: { "data-stage-row": si + ":" + st.id, "class": st.skewed ? "skewed" : "" }, cells: [
          st.id, { text: mainOperators(st.operators).join(", "), cls: "text" }, num(st.tasks), num(rowsIn),
          bytes(bytesIn), bytes(st.input_bytes), num(st.rows_out), bytes(st.bytes_out), bytes(st.shuffle_memory_bytes),
          bytes(st.shuffle_spilled_bytes + st.operator_spilled_bytes), bytes(st.peak_memory_bytes),
          secs(st.cpu_seconds), secs(tt.min) + " / " + secs(tt.median) + " / " + secs(tt.max),
          { text: st.skewed ? "max > 4\u00d7 median" : "", cls: "skew" },
          { text: marks(st).join(", "), cls: "text" }, st.end] };
      }));
  }

  function costRows(c) {
    return [
      { cells: ["CPU", c.cpu_seconds.toFixed(3) + " vCPU-s", money(c.cpu_price)] },
      { cells: ["memory", c.memory_gib_seconds.toFixed(4) + " GiB-s", money(c.memory_price)] },
      { cells: ["read / written", bytes(c.bytes_read) + " / " + bytes(c.bytes_written), money(c.io_price)] },
      { cells: ["total", "", money(c.price)] }];
  }

  function statement(si, s) {
    var sec = add(root, el("section", { "class": "statement", "data-statement": si }));
    add(sec, el("h2", {}, s.origin + ":" + s.line + " \u00b7 " + s.kind + (s.message && !s.error ? " \u00b7 " + s.message : "")));
    var sum = add(sec, el("p", { "class": "summary" }));
    [secs(s.elapsed_seconds), num(s.output_rows) + " rows" + (s.rows_written !== null ? ", " + num(s.rows_written) + " written" : ""),
      "peak memory " + bytes(s.peak_memory_bytes), "spilled " + bytes(s.spilled_bytes),
      s.stages.length + " stages, " + s.tasks.length + " task attempts", "cost " + money(s.cost.price)
    ].forEach(function (t) { add(sum, el("span", {}, t)); });
    if (s.error) add(sec, el("p", { "class": "statement-error" }, "Failed: " + s.error));
    if (!s.stages.length) {
      add(sec, el("p", { "class": "note" }, "No stages: the statement ran no plan on spate's executor or a cluster."));
      return;
    }
    add(sec, el("h3", {}, "Stage graph"));
    stageGraph(sec, si, s);
    add(sec, el("h3", {}, "Task timeline"));
    timeline(sec, si, s);
    add(sec, el("h3", {}, "Stages"));
    stageTable(sec, si, s);
    if (s.io.length) {
      add(sec, el("h3", {}, "I/O per store"));
      table(sec, ["store", "requests", "read", "written", "failed writes", "read ahead", "read ahead unused"],
        s.io.map(function (io) {
          return { cells: [{ text: io.store, cls: "text" }, num(io.requests), bytes(io.bytes_read), bytes(io.bytes_written),
            num(io.write_failures), bytes(io.read_ahead_bytes), bytes(io.read_ahead_unused)] };
        }));
    }
    add(sec, el("h3", {}, "Cost"));
    table(sec, ["", "used", "price"], costRows(s.cost)).setAttribute("class", "cost");
  }

  add(root, el("h1", {}, "spate job report"));
  var total = 0;
  R.statements.forEach(function (s) { total += s.elapsed_seconds; });
  add(root, el("p", { "class": "sub" }, R.statements.length + " statement" + (R.statements.length === 1 ? "" : "s") +
    ", " + secs(total) + ", cost " + money(R.cost.price) + " \u00b7 spate " + R.spate_version));
  R.statements.forEach(function (s, i) { statement(i, s); });
  add(root, el("h2", {}, "Cost of the run"));
  table(root, ["", "used", "price"], costRows(R.cost)).setAttribute("class", "cost");
  add(root, el("p", { "class": "note" }, "Rates: " + R.rates.vcpu_hour + " per vCPU-hour, " + R.rates.gib_hour +
    " per GiB-hour, " + R.rates.gb_read + " per GB read, " + R.rates.gb_written + " per GB written (" +
    R.rates.currency + "); from " + R.rates.price_list + ". CPU is the tasks' CPU time; memory is each task's peak " +
    "memory times its run time. Set them under [spate.report] in spate.toml."));
  var stages = 0, tasks = 0;
  R.statements.forEach(function (s) { stages += s.stages.length; tasks += s.tasks.length; });
  // data-render-ms: from the start of the page's navigation to the end of drawing.
  add(document.body, el("div", { id: "report-rendered", "data-stages": stages, "data-tasks": tasks,
    "data-render-ms": Math.round(performance.now()), hidden: "" }));
})();
