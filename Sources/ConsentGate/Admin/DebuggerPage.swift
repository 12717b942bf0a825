/// The live decision view: one self-contained page (no external assets) that asks for the admin
/// token once, keeps it in a cookie scoped to `/debugger`, and polls `/debugger/state` every second.
/// It shows counters, the cache hit ratio, upstream status classes and the newest decisions with
/// subjects only as an HMAC prefix; it never receives raw ids, traits or payloads.
enum DebuggerPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>consentgate · live decisions</title>
    <style>
      :root { font-family: system-ui, sans-serif; color: #1d2430; background: #f6f7f9; }
      body { margin: 0 auto; max-width: 1100px; padding: 24px; }
      h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 24px 0 8px; }
      .muted { color: #6b7280; font-size: 13px; }
      .cards { display: flex; gap: 12px; flex-wrap: wrap; }
      .card { background: #fff; border: 1px solid #e2e5ea; border-radius: 8px; padding: 12px 16px; min-width: 150px; }
      .card b { display: block; font-size: 22px; }
      table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid #e2e5ea; font-size: 13px; }
      th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eef0f3; }
      th { background: #fafbfc; font-weight: 600; }
      .v-consistent, .v-preference_update { color: #0a7a3d; } .v-mismatch, .v-unknown_subject { color: #b42318; }
      .v-missing_stamp { color: #b54708; } .v-store_unavailable, .v-invalid { color: #6941c6; }
      #login { background: #fff; border: 1px solid #e2e5ea; border-radius: 8px; padding: 16px; max-width: 420px; }
      input { font: inherit; padding: 6px 8px; width: 70%; } button { font: inherit; padding: 6px 12px; }
      code { font-size: 12px; }
    </style>
    </head>
    <body>
    <h1>consentgate · live decisions</h1>
    <div class="muted" id="status">connecting…</div>
    <form id="login" hidden>
      <p>Enter the admin token (<code>admin.token</code>) to watch decisions. It is kept in a cookie for this page only.</p>
      <input id="token" type="password" autocomplete="off" placeholder="admin token"> <button type="submit">Watch</button>
    </form>
    <div id="view" hidden>
      <div class="cards">
        <div class="card">events<b id="c-events">0</b></div>
        <div class="card">forwarded<b id="c-forward">0</b></div>
        <div class="card">dropped<b id="c-drop">0</b></div>
        <div class="card">restamped<b id="c-restamp">0</b></div>
        <div class="card">rejected<b id="c-reject">0</b></div>
        <div class="card">cache hit ratio<b id="c-hit">–</b></div>
        <div class="card">upstream<b id="c-upstream">–</b></div>
        <div class="card" id="spool" hidden>spool (batches · oldest)<b id="c-spool">–</b></div>
      </div>
      <h2>Events by verdict and action</h2>
      <table><thead><tr><th>verdict</th><th>action</th><th>events</th></tr></thead><tbody id="totals"></tbody></table>
      <h2>Newest decisions</h2>
      <table><thead><tr><th>time</th><th>source</th><th>type</th><th>event</th><th>subject (HMAC)</th><th>verdict</th><th>action</th><th>categories</th></tr></thead>
      <tbody id="decisions"></tbody></table>
    </div>
    <script>
    "use strict";
    const cookie = "consentgate_admin_token";
    const $ = (id) => document.getElementById(id);
    function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; }
    function hasToken() { return document.cookie.split(";").some((c) => c.trim().startsWith(cookie + "=")); }
    function askToken(message) { $("view").hidden = true; $("login").hidden = false; $("status").textContent = message; }
    $("login").addEventListener("submit", (e) => {
      e.preventDefault();
      document.cookie = cookie + "=" + encodeURIComponent($("token").value) + "; path=/debugger; SameSite=Strict";
      $("login").hidden = true; poll();
    });
    function render(state) {
      $("login").hidden = true; $("view").hidden = false;
      let total = 0; const by = { forward: 0, drop: 0, restamp: 0, reject: 0 };
      const totals = $("totals"); totals.replaceChildren();
      for (const t of state.totals) {
        total += t.count; by[t.action] = (by[t.action] || 0) + t.count;
        const row = totals.insertRow(); cell(row, t.verdict, "v-" + t.verdict); cell(row, t.action); cell(row, String(t.count));
      }
      $("c-events").textContent = total;
      for (const a of ["forward", "drop", "restamp", "reject"]) $("c-" + a).textContent = by[a];
      $("c-hit").textContent = (state.cache.hits + state.cache.misses + state.cache.negative_hits) === 0 ? "–" : (100 * state.cache.hit_ratio).toFixed(1) + " %";
      $("c-upstream").textContent = Object.entries(state.upstream).map(([k, v]) => k + ": " + v).join(" · ") || "–";
      if (state.spool) {
        $("spool").hidden = false;
        const s = state.spool;
        $("c-spool").textContent = s.batches + " · " + Math.round(s.oldest_age_seconds) + " s" + (s.full ? " · full" : "") + (s.dead_letters ? " · " + s.dead_letters + " dead" : "");
        $("spool").title = s.bytes + " bytes spooled";
      }
      const decisions = $("decisions"); decisions.replaceChildren();
      for (const d of state.decisions) {
        const row = decisions.insertRow();
        cell(row, d.time); cell(row, d.source || ""); cell(row, d.event_type || ""); cell(row, d.event || ""); cell(row, d.subject || "");
        cell(row, d.verdict, "v-" + d.verdict); cell(row, d.action);
        const cats = d.over.map((c) => c + " ↑").concat(d.under.map((c) => c + " ↓"));
        cell(row, cats.join(", "));
      }
      $("status").textContent = "updated " + new Date().toLocaleTimeString() + " · " + state.cache.entries + " subjects cached";
    }
    async function poll() {
      if (!hasToken()) { askToken("The admin token is needed."); return; }
      try {
        const response = await fetch("/debugger/state", { credentials: "same-origin", cache: "no-store" });
        if (response.status === 401) { askToken("That token was not accepted."); return; }
        if (!response.ok) { $("status").textContent = "the gateway answered " + response.status; }
        else { render(await response.json()); }
      } catch (e) { $("status").textContent = "cannot reach the gateway: " + e; }
      setTimeout(poll, 1000);
    }
    const query = new URLSearchParams(location.search).get("token");
    if (query) {
      document.cookie = cookie + "=" + encodeURIComponent(query) + "; path=/debugger; SameSite=Strict";
      history.replaceState(null, "", location.pathname);
    }
    poll();
    </script>
    </body>
    </html>
    """#
}
