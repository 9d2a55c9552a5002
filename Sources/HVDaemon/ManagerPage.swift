/// The System Manager's page: one self-contained HTML file (no external
/// assets: it works on a headless industrial PC without internet). It shows
/// the guests and the VMF live (server-sent events from /v1/watch) and drives
/// them through the same JSON API as the CLI.
enum ManagerPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hv System Manager</title>
<style>
  :root { --bg:#f4f6f9; --card:#fff; --ink:#1d2733; --muted:#6b7785; --line:#e2e7ee; --accent:#1f6feb;
          --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --rt:#8250df; }
  * { box-sizing: border-box; }
  [hidden] { display:none !important; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:center; gap:16px; padding:14px 28px; background:#0d1b2a; color:#fff; }
  header h1 { font-size:17px; margin:0; font-weight:600; letter-spacing:.2px; }
  header .host { color:#9fb3c8; font-size:13px; }
  header .live { margin-left:auto; font-size:12px; color:#9fb3c8; }
  header .live b { display:inline-block; width:8px; height:8px; border-radius:50%; background:#3fb950; margin-right:6px; }
  header .live.off b { background:#f85149; }
  nav { display:flex; gap:4px; padding:0 28px; background:#102538; }
  nav button { background:none; border:0; color:#9fb3c8; padding:10px 14px; font:inherit; cursor:pointer; border-bottom:2px solid transparent; }
  nav button.on { color:#fff; border-bottom-color:#58a6ff; }
  main { padding:24px 28px; max-width:1200px; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 20px; margin-bottom:18px; box-shadow:0 1px 2px rgba(0,0,0,.03); }
  .card h2 { margin:0 0 12px; font-size:15px; }
  .vmf { display:flex; align-items:center; gap:14px; flex-wrap:wrap; }
  .pill { display:inline-block; padding:2px 10px; border-radius:999px; font-size:12px; font-weight:600; }
  .pill.running { background:#dafbe1; color:var(--ok); } .pill.stopped, .pill.crashed { background:#eef1f4; color:var(--muted); }
  .pill.starting, .pill.stopping { background:#fff8c5; color:var(--warn); } .pill.stalled { background:#ffebe9; color:var(--bad); }
  .pill.loaded { background:#dafbe1; color:var(--ok); } .pill.unloaded { background:#eef1f4; color:var(--muted); }
  .kind { font-size:11px; font-weight:600; padding:1px 7px; border-radius:4px; background:#eef1f4; color:var(--muted); }
  .kind.rtos { background:#f3e8ff; color:var(--rt); }
  table { width:100%; border-collapse:collapse; }
  th { text-align:left; font-size:12px; color:var(--muted); font-weight:600; padding:8px 10px; border-bottom:1px solid var(--line); }
  td { padding:10px; border-bottom:1px solid var(--line); vertical-align:middle; }
  tr:last-child td { border-bottom:0; }
  td .sub { color:var(--muted); font-size:12px; }
  button.act { font:inherit; font-size:13px; padding:5px 12px; border-radius:6px; border:1px solid var(--line); background:#f6f8fa; cursor:pointer; margin-right:4px; }
  button.act:hover { border-color:#c9d1d9; } button.act:disabled { opacity:.45; cursor:default; }
  button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
  button.danger { color:var(--bad); }
  #toast { position:fixed; right:24px; bottom:24px; max-width:520px; padding:12px 16px; border-radius:8px; background:#0d1b2a; color:#fff; display:none; white-space:pre-wrap; }
  #toast.err { background:#8e1519; }
  .bar { display:flex; height:26px; border-radius:6px; overflow:hidden; border:1px solid var(--line); margin:8px 0; }
  .bar div { height:100%; }
  .legend span { display:inline-flex; align-items:center; gap:6px; margin-right:16px; font-size:12px; color:var(--muted); }
  .legend i { width:12px; height:12px; border-radius:3px; display:inline-block; }
  .cores { display:flex; gap:10px; flex-wrap:wrap; }
  .core { width:150px; border:1px solid var(--line); border-radius:8px; padding:10px; }
  .core b { display:block; font-size:13px; } .core.rt { border-color:#d8b9ff; background:#faf5ff; }
  .empty { color:var(--muted); padding:12px 0; }
  #term { background:#0d1117; color:#e6edf3; font:13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; height:420px; overflow:auto;
          padding:12px; border-radius:8px; margin:14px 0 8px; white-space:pre-wrap; word-break:break-all; }
  #con-input { width:100%; font:13px ui-monospace, "DejaVu Sans Mono", monospace; padding:8px 10px; border:1px solid var(--line); border-radius:6px; }
  .grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(230px, 1fr)); gap:12px 18px; margin-bottom:14px; }
  .grid label { display:flex; flex-direction:column; gap:4px; font-size:12px; color:var(--muted); font-weight:600; }
  .grid input, .grid select { font:14px system-ui, sans-serif; color:var(--ink); padding:6px 8px; border:1px solid var(--line); border-radius:6px; font-weight:400; }
  .assign-row { display:flex; align-items:center; gap:12px; padding:8px 0; }
  .assign-row b { width:160px; }
  .field-error { color:var(--bad); font-size:13px; white-space:pre-wrap; }
  select { font:inherit; padding:5px 8px; border-radius:6px; border:1px solid var(--line); }
</style>
</head>
<body>
<header>
  <h1>hv System Manager</h1><span class="host" id="host"></span>
  <span class="live off" id="live"><b></b><span>connecting…</span></span>
</header>
<nav>
  <button class="on" data-tab="guests">Guests</button>
  <button data-tab="cpu">CPU</button>
  <button data-tab="memory">Memory</button>
  <button data-tab="console">Console</button>
  <button data-tab="projects">Projects</button>
</nav>
<main>
  <section id="tab-guests">
    <div class="card">
      <div class="vmf">
        <h2 style="margin:0">VMF</h2><span id="vmf-state" class="pill unloaded">…</span>
        <span id="vmf-config" class="sub"></span>
        <span style="margin-left:auto"></span>
        <button class="act primary" id="vmf-load">Load VMF</button>
        <button class="act" id="vmf-unload">Unload VMF</button>
      </div>
    </div>
    <div class="card">
      <h2>Guests</h2>
      <table>
        <thead><tr><th>Guest</th><th>Kind</th><th>State</th><th>Cores</th><th>Memory</th><th>Accelerator</th><th>Address</th><th>Uptime</th><th></th></tr></thead>
        <tbody id="guests"><tr><td colspan="9" class="empty">loading…</td></tr></tbody>
      </table>
    </div>
    <div class="card">
      <h2>Add a guest</h2>
      <form id="add" autocomplete="off">
        <div class="grid">
          <label>Type<select name="type">
            <option value="rt-linux">Real-time Linux</option><option value="vxworks">VxWorks</option>
            <option value="rtos-32">On Time RTOS-32</option><option value="general+comm">General purpose + communication subsystem</option>
            <option value="general">General purpose</option></select><span class="field-error" data-field="type"></span></label>
          <label>Name<input name="name" placeholder="Controller"><span class="field-error" data-field="name"></span></label>
          <label>Folder<input name="folder" placeholder="guest0002 (automatic)"><span class="field-error" data-field="folder"></span></label>
          <label data-for="kvm">System<select name="os"><option value="ubuntu">Ubuntu</option><option value="windows">Windows</option></select><span class="field-error" data-field="os"></span></label>
          <label>Cores<input name="cores" type="number" min="1" placeholder="1"><span class="field-error" data-field="cores"></span></label>
          <label>Memory (MiB)<input name="memoryMiB" type="number" placeholder="256"><span class="field-error" data-field="memoryMiB"></span></label>
          <label data-for="rtos">Image<select name="image"></select><span class="field-error" data-field="image"></span></label>
          <label data-for="kvm">Disk image<input name="diskImage" placeholder="empty: in the guest folder"><span class="field-error" data-field="diskImage"></span></label>
          <label data-for="kvm">Disk size (GiB)<input name="diskSizeGiB" type="number" placeholder="64"><span class="field-error" data-field="diskSizeGiB"></span></label>
          <label data-for="kvm">Installation ISO<input name="iso" placeholder="iso/ubuntu.iso"><span class="field-error" data-field="iso"></span></label>
        </div>
        <button class="act primary" type="submit">Add guest</button> <span class="field-error" data-field="general"></span>
      </form>
    </div>
  </section>
  <section id="tab-cpu" hidden>
    <div class="card"><h2>CPU cores</h2><p class="sub">Each core belongs to the host or to one RTOS guest (while the VMF is loaded). The first RTOS guest takes the last core, the next the core below; core 0 stays with the host.</p><div class="cores" id="cores"></div></div>
    <div class="card"><h2>Assign cores</h2><p class="sub">Saved in hv.config and checked for conflicts; it takes effect when the VMF is loaded again (running guests are named).</p><div id="assign"></div></div>
  </section>
  <section id="tab-console" hidden>
    <div class="card">
      <div class="vmf">
        <h2 style="margin:0">Serial console</h2>
        <select id="con-guest"></select>
        <button class="act primary" id="con-open">Connect</button>
        <button class="act" id="con-close" disabled>Disconnect</button>
        <span class="sub" id="con-state">one interactive console per guest; others watch read-only</span>
      </div>
      <pre id="term"></pre>
      <input id="con-input" placeholder="type a command and press Enter" autocomplete="off" disabled>
    </div>
  </section>
  <section id="tab-projects" hidden>
    <div class="card">
      <h2>Projects</h2>
      <p class="sub">A project is a whole configuration (hv.config and every guest's guest.config). Syncing one shows exactly what changes first; guests it drops move to backup/.</p>
      <table><thead><tr><th>Project</th><th>Guests</th><th></th></tr></thead><tbody id="projects"></tbody></table>
      <div class="vmf" style="margin-top:14px">
        <input id="project-name" placeholder="name, e.g. line3" style="padding:6px 8px;border:1px solid var(--line);border-radius:6px">
        <button class="act primary" id="project-save">Save current configuration as project</button>
        <span class="field-error" id="project-error"></span>
      </div>
      <div id="preview" hidden style="margin-top:16px"><h2 id="preview-title"></h2><ul id="preview-list"></ul>
        <button class="act primary" id="preview-sync">Sync now</button> <button class="act" id="preview-cancel">Cancel</button></div>
    </div>
  </section>
  <section id="tab-memory" hidden>
    <div class="card"><h2>Memory</h2><div id="membar"></div></div>
  </section>
</main>
<div id="toast"></div>
<script>
"use strict";
let state = { guests: [], vmf: { loaded: false, reservedCores: {} } };
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));

function toast(text, err) {
  const t = $("toast"); t.textContent = text; t.className = err ? "err" : ""; t.style.display = "block";
  clearTimeout(toast.timer); toast.timer = setTimeout(() => t.style.display = "none", err ? 9000 : 4000);
}

async function api(method, path, body) {
  const r = await fetch(path, { method, headers: { "Content-Type": "application/json", "X-HV-Request": "1" },
                                body: body ? JSON.stringify(body) : undefined, credentials: "same-origin" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.message || r.statusText) + (data.hint ? "\n→ " + data.hint : ""));
  return data;
}

function uptime(g) {
  if (!g.startedAt || g.state === "stopped" || g.state === "crashed") return "–";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(g.startedAt)) / 1000));
  return s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " min " + (s % 60) + " s" : Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min";
}

function renderGuests() {
  const rows = state.guests.map((g) => {
    const running = !["stopped", "crashed"].includes(g.state);
    const rtos = g.kind === "rtos";
    return `<tr data-folder="${esc(g.folder)}">
      <td><b>${esc(g.name)}</b><div class="sub">${esc(g.folder)}</div></td>
      <td><span class="kind ${rtos ? "rtos" : ""}">${rtos ? "RTOS" : "KVM"}</span> <span class="sub">${esc(g.os)}</span></td>
      <td><span class="pill ${esc(g.state)}" data-role="state">${esc(g.state)}${g.state === "running" && rtos && !g.booted ? " (booting)" : ""}</span></td>
      <td>${g.cores.length ? esc(g.cores.join(", ")) + (g.schedFIFO ? " <span class=sub>FIFO</span>" : "") : "<span class=sub>host</span>"}</td>
      <td>${esc(g.memoryMiB)} MiB <span class="sub">${esc(g.vcpus)} vCPU</span></td>
      <td>${esc(g.accelerator || "–")}</td>
      <td>${esc(g.address || "–")}</td>
      <td data-role="uptime">${uptime(g)}</td>
      <td style="white-space:nowrap">
        <button class="act primary" data-act="start" ${running ? "disabled" : ""}>Start</button>
        <button class="act" data-act="restart" ${!running || !rtos ? "disabled" : ""} title="${rtos ? "" : "only RTOS guests restart in place"}">Restart</button>
        <button class="act danger" data-act="stop" ${!running ? "disabled" : ""}>Stop</button>
        ${!rtos ? `<button class="act" data-act="desktop" ${!g.display ? "disabled" : ""}>Desktop</button>` : ""}
        <button class="act danger" data-act="delete" ${running ? "disabled" : ""}>Delete</button>
      </td></tr>`;
  });
  $("guests").innerHTML = rows.join("") || `<tr><td colspan="9" class="empty">No guests yet. Create some with <code>hv_open_example rt-linux</code> and <code>hv_sync_example rt-linux</code>.</td></tr>`;
}

function renderVMF() {
  const v = state.vmf;
  $("vmf-state").textContent = v.loaded ? "loaded" : "not loaded";
  $("vmf-state").className = "pill " + (v.loaded ? "loaded" : "unloaded");
  $("vmf-config").textContent = v.loaded ? v.config : "";
  $("vmf-load").disabled = v.loaded; $("vmf-unload").disabled = !v.loaded;
}

function renderCPU() {
  const owner = {};
  for (const [folder, cores] of Object.entries(state.vmf.reservedCores || {})) for (const c of cores) owner[c] = folder;
  const n = Math.max(state.host?.cpuCount || state.vmf.cpuCount || 1, ...Object.keys(owner).map((c) => +c + 1));
  const guests = Object.fromEntries(state.guests.map((g) => [g.folder, g]));
  $("cores").innerHTML = Array.from({ length: n }, (_, c) => owner[c]
    ? `<div class="core rt"><b>Core ${c}</b>${esc(guests[owner[c]]?.name || owner[c])}<div class="sub">reserved, RTOS</div></div>`
    : `<div class="core"><b>Core ${c}</b>Host<div class="sub">host processes and KVM guests</div></div>`).join("");
  const assign = $("assign");
  if (assign.contains(document.activeElement)) return;   // do not redraw under the user's hand
  const choices = ["auto", ...Array.from({ length: n }, (_, c) => String(c))];
  assign.innerHTML = Object.entries(state.rtCores || {}).map(([folder, cores]) => `
    <div class="assign-row" data-folder="${esc(folder)}"><b>${esc(guests[folder]?.name || folder)}</b>
      <select data-role="cores">${choices.map((c) => `<option value="${c}" ${c === cores ? "selected" : ""}>${c === "auto" ? "auto (the last free core)" : "core " + c}</option>`).join("")}</select>
      <button class="act" data-role="apply">Apply</button><span class="field-error" data-role="error"></span></div>`).join("")
    || `<div class="empty">No RTOS guest is configured.</div>`;
}

$("assign").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-role=apply]"); if (!b) return;
  const row = b.closest(".assign-row"), err = row.querySelector("[data-role=error]");
  err.textContent = "";
  try {
    const r = await api("POST", `/v1/guests/${encodeURIComponent(row.dataset.folder)}/cores`, { cores: row.querySelector("select").value });
    toast(`saved in hv.config: ${r.folder} gets core ${r.cores.join(", ") || "none"} when the VMF is loaded again` +
          (r.mustRestart.length ? `\nrestart after reloading: ${r.mustRestart.join(", ")}` : ""));
    b.blur();
  } catch (e) { err.textContent = e.message; }
});

function renderMemory() {
  const total = state.host?.memoryMiB || 1, reserve = state.host?.reserveMiB || 0;
  const rt = state.guests.filter((g) => g.kind === "rtos").reduce((a, g) => a + g.memoryMiB, 0);
  const kvm = state.guests.filter((g) => g.kind !== "rtos").reduce((a, g) => a + g.memoryMiB, 0);
  const free = total - reserve - rt - kvm, pct = (x) => Math.max(0, x / total * 100);
  $("membar").innerHTML = `<div class="bar"><div style="width:${pct(reserve)}%;background:#6e7781"></div><div style="width:${pct(rt)}%;background:#8250df"></div>
      <div style="width:${pct(kvm)}%;background:#1f6feb"></div></div>
    <div class="legend"><span><i style="background:#6e7781"></i>host reserve ${reserve} MiB</span><span><i style="background:#8250df"></i>RTOS guests ${rt} MiB</span>
      <span><i style="background:#1f6feb"></i>KVM guests ${kvm} MiB</span><span><i style="background:#eef1f4;border:1px solid #ccc"></i>unassigned ${Math.max(free, 0)} MiB of ${total} MiB</span></div>
    ${free < 0 ? `<p class="field-error">The guests' memory exceeds what the host can give beyond its reserve by ${-free} MiB: not all of them can run at once (hv refuses the start that would cross it).</p>` : ""}`;
}

const form = $("add");
const field = (n) => form.elements[n];
function showTypeFields() {
  const rtos = ["rt-linux", "vxworks", "rtos-32"].includes(field("type").value);
  form.querySelectorAll("[data-for]").forEach((l) => l.hidden = (l.dataset.for === "rtos") !== rtos);
  field("memoryMiB").placeholder = rtos ? "256" : "4096"; field("cores").placeholder = rtos ? "1" : "2";
  const image = { "rt-linux": "rt-linux", "vxworks": "vxworks", "rtos-32": "rtos-32" }[field("type").value];
  if (image && [...field("image").options].some((o) => o.value === image)) field("image").value = image;
}
field("type").onchange = showTypeFields;
api("GET", "/v1/templates").then((names) => {
  field("image").innerHTML = names.map((n) => `<option value="${esc(n)}">templates/${esc(n)}</option>`).join("") || "<option value=''>(no images: run hv setup)</option>";
  showTypeFields();
}).catch(() => {});
form.onsubmit = async (ev) => {
  ev.preventDefault();
  form.querySelectorAll("[data-field]").forEach((e) => e.textContent = "");
  const body = { type: field("type").value, name: field("name").value };
  const rtos = ["rt-linux", "vxworks", "rtos-32"].includes(field("type").value);
  for (const k of ["folder", "cores", "memoryMiB", ...(rtos ? ["image"] : ["os", "diskImage", "diskSizeGiB", "iso"])]) {
    const v = field(k).value.trim();
    if (v !== "") body[k] = ["cores", "memoryMiB", "diskSizeGiB"].includes(k) ? Number(v) : v;
  }
  try {
    const r = await fetch("/v1/guests", { method: "POST", headers: { "Content-Type": "application/json", "X-HV-Request": "1" }, body: JSON.stringify(body) });
    const data = await r.json();
    if (!r.ok) {
      const slot = form.querySelector(`[data-field="${data.field || "general"}"]`) || form.querySelector('[data-field="general"]');
      slot.textContent = data.message + (data.hint ? "\n→ " + data.hint : "");
      return;
    }
    toast(data.message); form.reset(); showTypeFields();
  } catch (e) { toast(e.message, true); }
};

async function loadProjects() {
  try {
    const list = await api("GET", "/v1/projects");
    $("projects").innerHTML = list.map((p) => `<tr data-project="${esc(p.name)}"><td><b>${esc(p.name)}</b>${p.open ? ' <span class="pill loaded">open</span>' : ""}</td>
      <td>${esc(p.guests.join(", "))}</td><td><button class="act" data-role="preview">Preview sync</button></td></tr>`).join("")
      || `<tr><td colspan="3" class="empty">No projects yet.</td></tr>`;
  } catch (e) { toast(e.message, true); }
}
$("projects").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-role=preview]"); if (!b) return;
  const name = b.closest("tr").dataset.project;
  try {
    const p = await api("GET", `/v1/projects/${encodeURIComponent(name)}/preview`);
    $("preview-title").textContent = `Syncing ${name} changes:`;
    $("preview-list").innerHTML = p.changes.map((c) => `<li>${esc(c)}</li>`).join("") || "<li>nothing</li>";
    $("preview").hidden = false; $("preview").dataset.project = name;
  } catch (e) { toast(e.message, true); }
});
$("preview-cancel").onclick = () => $("preview").hidden = true;
$("preview-sync").onclick = async () => {
  try {
    const p = await api("POST", `/v1/projects/${encodeURIComponent($("preview").dataset.project)}/sync`, { confirm: true });
    toast(`synced ${p.project}: ${p.changes.length} change(s)`); $("preview").hidden = true; loadProjects();
  } catch (e) { toast(e.message, true); }
};
$("project-save").onclick = async () => {
  $("project-error").textContent = "";
  try { const p = await api("POST", "/v1/projects", { name: $("project-name").value.trim() }); toast(`saved project ${p.name}`); loadProjects(); }
  catch (e) { $("project-error").textContent = e.message; }
};
document.querySelector("nav button[data-tab=projects]").addEventListener("click", loadProjects);

function renderConsoleChoices() {
  const sel = $("con-guest"), keep = sel.value;
  const running = state.guests.filter((g) => !["stopped", "crashed"].includes(g.state));
  sel.innerHTML = running.map((g) => `<option value="${esc(g.folder)}">${esc(g.name)} (${esc(g.folder)})</option>`).join("") || "<option value=''>no guest is running</option>";
  if (running.some((g) => g.folder === keep)) sel.value = keep;
}

function render() { renderVMF(); renderGuests(); renderCPU(); renderMemory(); renderConsoleChoices(); }

let ws = null;
const decoder = new TextDecoder();
function termWrite(text) {
  const t = $("term");
  t.textContent = (t.textContent + text.replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, "").replace(/\r/g, "")).slice(-100000);
  t.scrollTop = t.scrollHeight;
}
function consoleClosed(why) {
  ws = null; $("con-open").disabled = false; $("con-close").disabled = true; $("con-input").disabled = true;
  $("con-state").textContent = why;
}
$("con-open").onclick = () => {
  const folder = $("con-guest").value; if (!folder || ws) return;
  $("term").textContent = "";
  ws = new WebSocket(`ws://${location.host}/v1/guests/${encodeURIComponent(folder)}/console/ws`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => { $("con-open").disabled = true; $("con-close").disabled = false; $("con-input").disabled = false;
                      $("con-state").textContent = "connected to " + folder; $("con-input").focus(); };
  ws.onmessage = (m) => {
    if (typeof m.data === "string") { termWrite(m.data); $("con-input").disabled = true; $("con-state").textContent = m.data.trim(); }
    else termWrite(decoder.decode(m.data, { stream: true }));
  };
  ws.onclose = () => consoleClosed("disconnected");
};
$("con-close").onclick = () => { if (ws) ws.close(); };
$("con-input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && ws) { ws.send($("con-input").value + "\r"); $("con-input").value = ""; }
  if (ev.key === "c" && ev.ctrlKey && ws) { ws.send("\x03"); ev.preventDefault(); }
});

async function act(folder, action) {
  const g = state.guests.find((x) => x.folder === folder);
  if (action === "stop" && !confirm(`Stop ${g.name}? It gets the ACPI power button and is forced off after its timeout.`)) return;
  if (action === "desktop") {
    window.open(`/novnc/vnc_lite.html?path=${encodeURIComponent("v1/guests/" + folder + "/display/ws")}&scale=true&title=${encodeURIComponent(g.name)}`, "_blank");
    return;
  }
  if (action === "delete") {
    try {
      const plan = await api("GET", `/v1/guests/${encodeURIComponent(folder)}/deletion`);
      const text = `Delete ${plan.name} (${plan.folder})? This removes:\n` + plan.goes.map((l) => " • " + l).join("\n") +
        (plan.kept.length ? "\nKept: " + plan.kept.join("; ") : "") + "\nEverything is moved to backup/ first.";
      if (!confirm(text)) return;
      toast((await api("POST", `/v1/guests/${encodeURIComponent(folder)}/delete`, { confirm: true })).message);
    } catch (e) { toast(e.message, true); }
    return;
  }
  try {
    const body = action === "stop" ? { force: false } : { wait: false, timeoutSeconds: 180 };
    const r = await api("POST", `/v1/guests/${encodeURIComponent(folder)}/${action}`, body);
    toast(r.message);
  } catch (e) { toast(e.message, true); }
}

$("guests").addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-act]"); if (!b) return;
  act(b.closest("tr").dataset.folder, b.dataset.act);
});
$("vmf-load").onclick = async () => {
  try { await api("POST", "/v1/vmf/load", { config: "" }); toast("VMF loaded"); } catch (e) { toast(e.message, true); }
};
$("vmf-unload").onclick = async () => {
  const running = state.guests.filter((g) => g.kind === "rtos" && !["stopped", "crashed"].includes(g.state));
  if (running.length && !confirm("Stop " + running.map((g) => g.name).join(", ") + " and unload the VMF?")) return;
  try { await api("POST", "/v1/vmf/unload", { stopGuests: true }); toast("VMF unloaded"); } catch (e) { toast(e.message, true); }
};
document.querySelectorAll("nav button").forEach((b) => b.onclick = () => {
  document.querySelectorAll("nav button").forEach((x) => x.classList.toggle("on", x === b));
  document.querySelectorAll("main > section").forEach((s) => s.hidden = s.id !== "tab-" + b.dataset.tab);
});

function connect() {
  const es = new EventSource("/v1/watch");
  es.addEventListener("state", (m) => { state = JSON.parse(m.data); render(); });
  es.onopen = () => { $("live").className = "live"; $("live").lastChild.textContent = "live"; };
  es.onerror = () => { $("live").className = "live off"; $("live").lastChild.textContent = "reconnecting…"; };
}
$("host").textContent = location.host;
setInterval(() => document.querySelectorAll("[data-role=uptime]").forEach((td) => {
  const g = state.guests.find((x) => x.folder === td.closest("tr").dataset.folder); if (g) td.textContent = uptime(g);
}), 1000);
connect();
</script>
</body>
</html>
"""#
}
