// La Factoria ops console. Static, no build step, no inline script (strict CSP).
// The operator's key lives in sessionStorage only and travels as a bearer token.
"use strict";

(function () {
  const KEY = "lafactoria.opsKey";
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  // -- helpers ------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }
  const fmtInt = (n) => (n == null ? "–" : Number(n).toLocaleString("en-US"));
  const fmtPct = (x) => (x == null ? "–" : (x * 100).toFixed(x >= 0.995 || x === 0 ? 0 : 1) + "%");
  const fmtMs = (ms) => (ms == null ? "–" : ms >= 1000 ? (ms / 1000).toFixed(1) + " s" : Math.round(ms) + " ms");
  function fmtUsd(x) {
    if (x == null) return "–";
    if (x === 0) return "$0";
    return x < 0.01 ? "$" + x.toFixed(4) : "$" + x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function fmtWhen(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    const mins = Math.round((Date.now() - d.getTime()) / 60000);
    const abs = Math.abs(mins);
    const rel = abs < 1 ? "now" : abs < 60 ? abs + " min" : abs < 2880 ? Math.round(abs / 60) + " h" : Math.round(abs / 1440) + " d";
    const stamp = d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
    return rel === "now" ? stamp + " (now)" : stamp + (mins >= 0 ? " (" + rel + " ago)" : " (in " + rel + ")");
  }
  // The API's duration_s keeps milliseconds (its ISO times are whole seconds): 0.24 s, 12.5 s, 4.5 min.
  function took(run) {
    if (!run || run.duration_s == null) return "–";
    const s = run.duration_s;
    if (s < 10) return s.toFixed(2) + " s";
    if (s < 60) return s.toFixed(1) + " s";
    return s < 600 ? (s / 60).toFixed(1) + " min" : Math.round(s / 60) + " min";
  }
  // One word per job, the same judgement as /health (shared/job_status.py): a dry run is not a run.
  function jobState(j) {
    if (j.overdue) return { cls: "warn", text: j.last_run ? "overdue" : "missed" };
    if (!j.last_run) return { cls: "", text: "not due yet" };
    return { cls: j.last_run.status, text: j.last_run.status };
  }

  class HttpError extends Error {
    constructor(status, detail) { super(detail || "HTTP " + status); this.status = status; }
  }

  async function api(path, options) {
    const key = sessionStorage.getItem(KEY);
    const resp = await fetch(path, Object.assign({
      headers: { Authorization: "Bearer " + key, Accept: "application/json" },
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    }, options || {}));
    const type = resp.headers.get("Content-Type") || "";
    const body = type.includes("json") ? await resp.json() : null;
    // /health answers 503 with a full report when a check fails: that is data, not an error.
    if (!resp.ok && !(path === "/health" && resp.status === 503 && body)) {
      throw new HttpError(resp.status, body && (body.detail || body.title));
    }
    return body;
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // -- panels -------------------------------------------------------------------------
  function renderHealth(report) {
    const status = $("health-status");
    status.textContent = report.status;
    status.className = "pill " + report.status;
    $("health-version").textContent = "release " + (report.releaseId || report.version || "");
    const list = $("health-checks");
    list.replaceChildren();
    for (const [key, items] of Object.entries(report.checks || {})) {
      for (const item of items) {
        const name = item.componentId ? key.split(":")[0] + ":" + item.componentId : key;
        const li = el("li", { "data-status": item.status, title: item.output || item.status },
          el("span", { class: "dot " + item.status }), el("span", { text: name }));
        list.append(li);
      }
    }
  }

  function renderMetrics(m) {
    $("kpi-requests").textContent = fmtInt(m.requests.total);
    $("kpi-rpm").textContent = m.requests.per_minute.toFixed(2) + " per minute";
    $("kpi-generations").textContent = fmtInt(m.generation.count);
    $("kpi-success").textContent = "success " + fmtPct(m.generation.success_rate);
    const q = m.generation.quality;
    $("kpi-quality").textContent = q.mean == null ? "–" : q.mean.toFixed(2);
    $("kpi-passed").textContent = "passed the gate " + fmtPct(q.passed_share);
    $("kpi-cost").textContent = fmtUsd(m.cost_usd);
    $("kpi-feedback").textContent = m.feedback.count
      ? m.feedback.count + " ratings, mean " + m.feedback.mean_rating.toFixed(1) + " / 5" : "no feedback";
    const label = "last " + m.window;
    $("functions-window").textContent = label;
    $("quality-window").textContent = label;
    const body = $("functions-body");
    body.replaceChildren();
    const names = Object.keys(m.requests.functions);
    if (!names.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "empty", text: "No requests in this window." })));
    for (const name of names) {
      const f = m.requests.functions[name];
      body.append(el("tr", { "data-function": name },
        el("td", { text: name }), el("td", { class: "num", text: fmtInt(f.count) }),
        el("td", { class: "num", text: fmtPct(f.error_rate_4xx) }), el("td", { class: "num", text: fmtPct(f.error_rate_5xx) }),
        el("td", { class: "num", text: fmtMs(f.latency_ms.p50) }), el("td", { class: "num", text: fmtMs(f.latency_ms.p95) }),
        el("td", { class: "num", text: fmtMs(f.latency_ms.p99) })));
    }
    renderQuality(q.histogram);
  }

  function renderQuality(histogram) {
    const bands = Object.keys(histogram);
    const max = Math.max(1, ...bands.map((b) => histogram[b]));
    const W = 420, H = 190, pad = 28, gap = 18;
    const bw = (W - pad * 2 - gap * (bands.length - 1)) / bands.length;
    const colours = ["#dc2626", "#f59e0b", "#0ea5e9", "#16a34a"];
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Quality score histogram" });
    chart.append(svg("line", { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, class: "axis" }));
    bands.forEach((band, i) => {
      const n = histogram[band];
      const h = ((H - pad * 2 - 10) * n) / max;
      const x = pad + i * (bw + gap);
      const bar = svg("rect", { x, y: H - pad - h, width: bw, height: Math.max(h, 1), rx: 4, fill: colours[i % 4],
        "data-band": band, "data-count": n });
      bar.append(Object.assign(svg("title"), { textContent: band + ": " + n + " items" }));
      chart.append(bar);
      const value = svg("text", { x: x + bw / 2, y: H - pad - h - 5, "text-anchor": "middle", class: "bar-label" });
      value.textContent = String(n);
      const tick = svg("text", { x: x + bw / 2, y: H - pad + 14, "text-anchor": "middle" });
      tick.textContent = band;
      chart.append(value, tick);
    });
    $("quality-chart").replaceChildren(chart);
  }

  function renderSpend(spend) {
    const days = spend.days;
    const providers = spend.providers;
    const W = 420, H = 200, left = 44, right = 8, top = 12, bottom = 26;
    const max = Math.max(...days.map((d) => d.total), 0);
    const scaleMax = max > 0 ? niceCeil(max) : 1;
    const bw = (W - left - right) / days.length;
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Spend by day and provider" });
    for (let i = 0; i <= 4; i++) {
      const y = top + ((H - top - bottom) * i) / 4;
      chart.append(svg("line", { x1: left, y1: y, x2: W - right, y2: y, class: "axis" }));
      const t = svg("text", { x: left - 6, y: y + 3, "text-anchor": "end" });
      t.textContent = fmtUsd(scaleMax * (1 - i / 4));
      chart.append(t);
    }
    days.forEach((day, i) => {
      let y = H - bottom;
      providers.forEach((p, j) => {
        const v = day.providers[p] || 0;
        if (!v) return;
        const h = ((H - top - bottom) * v) / scaleMax;
        y -= h;
        const rect = svg("rect", { x: left + i * bw + bw * 0.15, y, width: bw * 0.7, height: h, rx: 2,
          class: "spend-bar", fill: SWATCHES[j % SWATCHES.length], "data-day": day.date, "data-provider": p });
        rect.append(Object.assign(svg("title"), { textContent: day.date + " · " + p + ": " + fmtUsd(v) }));
        chart.append(rect);
      });
      if (i % 2 === days.length % 2 || days.length <= 7) {
        const t = svg("text", { x: left + i * bw + bw / 2, y: H - 8, "text-anchor": "middle" });
        t.textContent = day.date.slice(5);
        chart.append(t);
      }
    });
    $("spend-chart").replaceChildren(chart);
    const legend = $("spend-legend");
    legend.replaceChildren();
    const total = days.reduce((s, d) => s + d.total, 0);
    providers.forEach((p, j) => {
      const sum = days.reduce((s, d) => s + (d.providers[p] || 0), 0);
      legend.append(el("li", {}, el("span", { class: "swatch s" + (j % 6) }), el("span", { text: p + " " + fmtUsd(sum) })));
    });
    legend.append(el("li", { class: "muted", text: providers.length ? "total " + fmtUsd(total) : "no spend in this period" }));
    const facts = $("spend-per-user");
    facts.replaceChildren();
    const add = (label, value) => facts.append(el("dt", { text: label }), el("dd", { text: value }));
    const complete = days.length > 1 ? days[days.length - 2] : days[0];  // yesterday: a whole day
    add("Cost per active user (" + complete.date.slice(5) + ")", complete.cost_per_active_user == null
      ? "no active users" : fmtUsd(complete.cost_per_active_user) + " · " + complete.active_users + " users");
    const types = (spend.content_types || []).slice(0, 3)
      .map((t) => t.content_type + " " + fmtUsd(t.cost_per_active_user_day)).join(" · ");
    add("Per user-day by content type", types || "–");
    const r = spend.requests_per_user || {};
    add("Generations per user and day", r.user_days ? "p50 " + r.p50 + " · p90 " + r.p90 + " · p99 " + r.p99 : "–");
    const t = spend.trend || {};
    add("Trend", t.slope_usd_per_day == null ? "–" : (t.slope_usd_per_day >= 0 ? "+" : "−")
      + fmtUsd(Math.abs(t.slope_usd_per_day)) + " a day, day over day");
    $("spend-projection").textContent = t.projection ? t.projection.statement : "";
  }
  const SWATCHES = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981", "#ec4899", "#64748b"];
  function niceCeil(x) {
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
    return 10 * p;
  }

  function renderAlerts(alerts) {
    const list = $("alerts-list");
    list.replaceChildren();
    const count = $("alerts-count");
    count.textContent = String(alerts.length);
    count.className = "count" + (alerts.some((a) => a.severity === "critical" && !a.acknowledged_at) ? " hot" : "");
    $("alerts-empty").hidden = alerts.length > 0;
    for (const a of alerts) {
      let action;
      if (a.acknowledged_at) {
        action = el("span", { class: "acked", text: "✓ acknowledged " + fmtWhen(a.acknowledged_at).replace(/^.* \(/, "(") });
      } else {
        action = el("button", { type: "button", class: "small ack", "data-alert": a.id, text: "Acknowledge" });
        action.addEventListener("click", () => acknowledge(a.id, action));
      }
      const meta = "opened " + fmtWhen(a.opened_at) + (a.escalated_at ? " · escalated" : "") + (a.notified_at ? "" : " · not notified");
      list.append(el("li", { class: "alert " + a.severity, "data-rule": a.rule, "data-id": a.id },
        el("span", { class: "stripe" }),
        el("div", {}, el("div", {}, el("span", { class: "sev", text: a.severity }), el("span", { class: "rule", text: a.rule })),
          el("div", { class: "summary", text: a.summary }), el("div", { class: "meta", text: meta })),
        action));
    }
  }

  async function acknowledge(id, button) {
    button.disabled = true;
    button.textContent = "Acknowledging…";
    try {
      await api("/v1/alerts/" + encodeURIComponent(id) + "/ack", { method: "POST" });
      renderAlerts((await api("/v1/alerts")).alerts);
    } catch (err) {
      button.disabled = false;
      button.textContent = "Acknowledge";
      showError("Could not acknowledge: " + err.message);
    }
  }

  function renderJobs(jobs) {
    const body = $("jobs-body");
    body.replaceChildren();
    for (const j of jobs) {
      const run = j.last_run, state = jobState(j);
      body.append(el("tr", { "data-job": j.name, "data-state": state.text },
        el("td", { text: j.name }), el("td", { class: "mono", text: j.schedule }),
        el("td", {}, el("span", { class: "pill " + state.cls, text: state.text })),
        el("td", { text: run ? fmtWhen(run.started_at) : "–" }), el("td", { text: took(run) }),
        el("td", { text: fmtWhen(j.next_due_at) })));
    }
  }

  function renderBackup(jobs, report) {
    const byName = Object.fromEntries(jobs.map((j) => [j.name, j.last_run]));
    const backup = byName["backup"], verify = byName["backup-verify"];
    const age = ((report.checks || {})["backups:age"] || [])[0] || {};
    const facts = $("backup-facts");
    facts.replaceChildren();
    const add = (label, value, attrs) => facts.append(el("dt", { text: label }), el("dd", attrs || {}, value));
    const s = (backup && backup.summary) || {};
    add("Newest backup", s.backup_id || "none yet", { id: "backup-newest" });
    add("Age", age.observedValue != null ? age.observedValue.toFixed(1) + " h" : (age.output || "unknown"));
    add("Size", s.size != null ? (s.size / 1024).toFixed(1) + " KiB" : "–");
    add("Rows", s.rows != null ? fmtInt(s.rows) : "–");
    const vs = verify ? verify.status : "never run";
    add("Verification", el("span", { class: "pill " + (verify ? verify.status : ""), text: vs }), { id: "backup-verified" });
    add("Verified", verify ? fmtWhen(verify.ended_at || verify.started_at) : "–");
    if (verify && verify.summary && verify.summary.reasons) add("Why", verify.summary.reasons.join("; "));
  }

  function fmtBytes(n) {
    if (n == null) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + " " + units[i];
  }

  function renderDatabase(report) {
    const items = (report.checks || {})["database:resources"] || [];
    const by = Object.fromEntries(items.map((i) => [i.componentId, i]));
    const facts = $("database-facts");
    facts.replaceChildren();
    const add = (label, item, value) => facts.append(el("dt", { text: label }),
      el("dd", { "data-status": item ? item.status : "" }, value));
    const body = $("database-queries");
    body.replaceChildren();
    if (by.resources) {  // SQLite: said plainly, no zeros
      add("Resources", by.resources, by.resources.output || "not assessed");
      return;
    }
    const c = by.connections, size = by.size, tx = by.long_transactions, locks = by.lock_waits, bloat = by.bloat;
    if (c) add("Connections", c, c.output + " (" + fmtPct(c.observedValue) + ")");
    if (size) add("Size", size, fmtBytes(size.observedValue) + (size.growthBytesPerDay != null
      ? " · " + fmtBytes(size.growthBytesPerDay) + " per day" : "") + " · " + (size.output || "ok"));
    if (tx) add("Long transactions", tx, tx.observedValue ? tx.output : "none");
    if (locks) add("Lock waits", locks, String(locks.observedValue));
    if (bloat) add("Bloat (big tables)", bloat, bloat.output || "none");
    const slow = by.slow_queries;
    const top = (slow && slow.top) || [];
    if (!top.length) body.append(el("tr", {}, el("td", { colspan: "4", class: "empty",
      text: slow && slow.output ? slow.output : "No statements recorded." })));
    for (const q of top) {
      body.append(el("tr", { "data-fingerprint": q.fingerprint }, el("td", { class: "mono", text: q.query }),
        el("td", { class: "num", text: fmtInt(q.calls) }), el("td", { class: "num", text: fmtMs(q.mean_ms) }),
        el("td", { class: "num", text: fmtMs(q.p95_ms) })));
    }
  }

  function renderInstances(report) {
    const items = ((report.checks || {})["instances:resources"] || []).filter((i) => i.instance);
    const body = $("instances-body");
    body.replaceChildren();
    if (!items.length) body.append(el("tr", {}, el("td", { colspan: "8", class: "empty", text: "No instance reported in the last 10 minutes." })));
    for (const i of items) {
      const pool = i.pool || {};
      body.append(el("tr", { "data-instance": i.instance, "data-status": i.status },
        el("td", { text: i.componentId }), el("td", { class: "mono", text: i.instance }),
        el("td", { class: "num", text: fmtBytes(i.observedValue) }), el("td", { class: "num", text: fmtInt(i.threads) }),
        el("td", { class: "num", text: fmtInt(i.inFlight) }),
        el("td", { class: "num", text: fmtInt(pool.checkedOut) + " / " + fmtInt(pool.size) }),
        el("td", { class: "num", text: fmtInt(pool.waits) }), el("td", { class: "num", text: fmtInt(pool.timeouts) })));
    }
  }

  // -- flow ---------------------------------------------------------------------------
  async function load() {
    const win = $("window").value;
    showError("");
    try {
      const [alerts, jobs, metrics, spend, report] = await Promise.all([
        api("/v1/alerts"), api("/v1/jobs"), api("/v1/metrics?window=" + encodeURIComponent(win)),
        api("/v1/spend?days=14"), api("/health"),
      ]);
      renderHealth(report);
      renderMetrics(metrics);
      renderSpend(spend);
      renderAlerts(alerts.alerts);
      renderJobs(jobs.jobs);
      renderBackup(jobs.jobs, report);
      renderDatabase(report);
      renderInstances(report);
      $("updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
      document.body.dataset.loaded = "true";
    } catch (err) {
      if (err.status === 401 || err.status === 403) return signOut(err.status === 403
        ? "This key does not have the ops or admin role." : "This key was not accepted.");
      showError("Could not load the console: " + err.message);
    }
  }

  function showDashboard(on) {
    $("login").hidden = on;
    $("dashboard").hidden = !on;
    $("toolbar").hidden = !on;
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    delete document.body.dataset.loaded;
    showDashboard(false);
    const box = $("login-error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY, key);
      $("key").value = "";
      $("login-error").hidden = true;
      showDashboard(true);
      load();
    });
    $("logout").addEventListener("click", () => signOut(""));
    $("refresh").addEventListener("click", load);
    $("window").addEventListener("change", load);
    if (sessionStorage.getItem(KEY)) { showDashboard(true); load(); }
  });
})();
