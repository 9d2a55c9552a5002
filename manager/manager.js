"use strict";
let state = { guests: [], vmf: { loaded: false, reservedCores: {} } };
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));

function toast(text, err) {
  const t = $("toast"); t.textContent = text; t.className = err ? "err" : ""; t.style.display = "block";
  clearTimeout(toast.timer); toast.timer = setTimeout(() => t.style.display = "none", err ? 9000 : 4000);
}

// The address (hv manager url) carries a single-use login code in its
// fragment, which the browser never sends and which is spent once the page
// has traded it for the token: history keeps nothing of worth. The token
// then lives in this tab's session storage: never in a cookie, which other
// servers on this host (cookies ignore ports) would receive too. It goes out
// as a header; the event stream and WebSockets, which cannot send headers,
// get short-lived single-use tickets instead.
let token = sessionStorage.getItem("hv_token") || "";
const loggedIn = (async () => {
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  if (!code) return;
  history.replaceState(null, "", "/");
  const r = await fetch("/v1/manager/login", { method: "POST", credentials: "omit",
    headers: { "Content-Type": "application/json", "X-HV-Request": "1" }, body: JSON.stringify({ code }) });
  const data = await r.json().catch(() => ({}));
  if (r.ok && data.token) { token = data.token; sessionStorage.setItem("hv_token", token); return; }
  // A spent code with a token from before (a reload of the address) still opens the page.
  if (!token) denied((data.message || "this login code is not valid") + (data.hint ? " — " + data.hint : ""));
})();
// An address with a new code opened over this page changes only the fragment: start afresh with it.
window.addEventListener("hashchange", () => { if (new URLSearchParams(location.hash.slice(1)).get("code")) location.reload(); });

// The first reason stays: a refused login code, not the 401s that follow it.
function denied(message) {
  if (!$("denied").hidden) return;
  $("denied").hidden = false;
  $("denied-text").textContent = message;
}

async function api(method, path, body) {
  await loggedIn;
  const r = await fetch(path, { method, headers: { "Content-Type": "application/json", "X-HV-Request": "1", "Authorization": "Bearer " + token },
                                body: body ? JSON.stringify(body) : undefined, credentials: "omit" });
  const data = await r.json().catch(() => ({}));
  if (r.status === 401) denied((data.message || "a valid token is needed") + (data.hint ? " — " + data.hint : ""));
  if (!r.ok) throw new Error((data.message || r.statusText) + (data.hint ? "\n→ " + data.hint : ""));
  return data;
}

async function ticket() { return (await api("POST", "/v1/tickets", {})).ticket; }

function uptime(g) {
  if (!g.startedAt || g.state === "stopped" || g.state === "crashed") return "–";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(g.startedAt)) / 1000));
  return s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " min " + (s % 60) + " s" : Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min";
}

// RT-Linux: what it boots, and its own disk (the whole path on hover).
function rootCell(g) {
  if (!g.root) return "";
  const disk = g.diskImage ? ` · <span title="${esc(g.diskImage)}">${esc(g.diskImage.split("/").pop())}</span>` : "";
  return `<div class="sub" data-role="root">${g.root === "debian" ? "Debian root" + disk : "busybox image"}</div>`;
}

// hv rt qualify: the run under way (live, from hvd's snapshots) or the last one.
function qualifyCell(g) {
  const q = g.qualification;
  if (!q) return "";
  const figures = `max ${esc(q.maxMicroseconds)} µs · p99.99 ${esc(q.p9999Microseconds)} µs`;
  const what = q.state === "running" ? `qualifying ${esc(q.measuredSeconds)} of ${esc(q.plannedSeconds)} s` : `qualification ${esc(q.state)}`;
  return `<div class="sub" data-role="qualify" title="report: ${esc(q.reportHTML)}">${what} · ${figures}</div>`;
}

// The guest's clock against the host's, as hvd measured it.
function clockCell(g) {
  if (!g.clock) return "";
  const ms = g.clock.offsetSeconds * 1000;
  return `<div class="sub" data-role="clock" title="measured ${esc(g.clock.measuredAt)}, round trip ${(g.clock.delaySeconds * 1000).toFixed(2)} ms">clock ${ms >= 0 ? "+" : ""}${ms.toFixed(2)} ms</div>`;
}

function renderGuests() {
  const rows = state.guests.map((g) => {
    const running = !["stopped", "crashed"].includes(g.state);
    const rtos = g.kind === "rtos";
    return `<tr data-folder="${esc(g.folder)}">
      <td><b>${esc(g.name)}</b><div class="sub">${esc(g.folder)}</div></td>
      <td><span class="kind ${rtos ? "rtos" : ""}">${rtos ? "RTOS" : "KVM"}</span> <span class="sub">${esc(g.os)}</span>${rootCell(g)}</td>
      <td><span class="pill ${esc(g.state)}" data-role="state" title="${esc(g.paused || "")}">${esc(g.state)}${g.paused ? " (paused)" : ""}${g.state === "running" && rtos && !g.booted ? " (booting)" : ""}</span>${qualifyCell(g)}</td>
      <td>${g.cores.length ? esc(g.cores.join(", ")) + (g.schedFIFO ? " <span class=sub>FIFO</span>" : "") : "<span class=sub>host</span>"}</td>
      <td>${esc(g.memoryMiB)} MiB <span class="sub">${esc(g.vcpus)} vCPU</span></td>
      <td>${esc(g.accelerator || "–")}</td>
      <td>${esc(g.address || "–")}${clockCell(g)}</td>
      <td data-role="uptime">${uptime(g)}</td>
      <td><div class="actions">
        <button class="act primary" data-act="start" ${running ? "disabled" : ""}>Start</button>
        <button class="act" data-act="restart" ${!running || !rtos ? "disabled" : ""} title="${rtos ? "" : "only RTOS guests restart in place"}">Restart</button>
        <button class="act danger" data-act="stop" ${!running ? "disabled" : ""}>Stop</button>
        ${g.paused ? `<button class="act primary" data-act="resume" title="${esc(g.paused)}">Resume</button>` : ""}
        ${!rtos ? `<button class="act" data-act="desktop" ${!g.display ? "disabled" : ""}>Desktop</button>` : ""}
        <button class="act" data-act="edit">Edit</button>
        ${!rtos || g.root === "debian" ? `<button class="act" data-act="snapshots">Snapshots</button>` : ""}
        <button class="act danger" data-act="delete" ${running ? "disabled" : ""}>Delete</button>
      </div></td></tr>`;
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

/// Puts an API error next to its field (or under the form), as the .config check named it.
function showFieldError(formEl, data) {
  const slot = formEl.querySelector(`[data-field="${data.field || "general"}"]`) || formEl.querySelector('[data-field="general"]');
  slot.textContent = data.message + (data.hint ? "\n→ " + data.hint : "");
}
async function send(method, path, body) {
  await loggedIn;
  const r = await fetch(path, { method, headers: { "Content-Type": "application/json", "X-HV-Request": "1", "Authorization": "Bearer " + token },
                                body: JSON.stringify(body), credentials: "omit" });
  return { ok: r.ok, data: await r.json().catch(() => ({ message: r.statusText })) };
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
    const { ok, data } = await send("POST", "/v1/guests", body);
    if (!ok) return showFieldError(form, data);
    toast(data.message); form.reset(); showTypeFields();
  } catch (e) { toast(e.message, true); }
};

const editForm = $("edit-form");
const editFields = ["name", "cores", "memoryMiB", "rtPriority", "image", "diskImage", "diskSizeGiB", "iso", "isoAttach", "networkMode", "bridge", "hostForward", "communication", "address"];
let editing = null;
async function openEdit(folder) {
  let s;
  try { s = await api("GET", `/v1/guests/${encodeURIComponent(folder)}/settings`); } catch (e) { return toast(e.message, true); }
  editing = s;
  const rtos = s.kind === "rtos";
  $("edit-title").textContent = `Edit ${s.name} (${s.folder}, ${rtos ? "RTOS" : "KVM"} guest, ${s.os})`;
  editForm.querySelectorAll("[data-for]").forEach((l) => l.hidden = (l.dataset.for === "rtos") !== rtos);
  editForm.querySelectorAll("[data-field]").forEach((e) => e.textContent = "");
  const images = [...field("image").options].map((o) => o.value).filter((v) => v);
  if (s.image && !images.includes(s.image)) images.push(s.image);
  editForm.elements.image.innerHTML = images.map((n) => `<option value="${esc(n)}">templates/${esc(n)}</option>`).join("");
  for (const k of editFields) {
    const el = editForm.elements[k], v = s[k], over = (s.overridden || []).includes(k);
    el.value = k === "communication" ? (v ? "yes" : "no") : (v ?? "");
    el.disabled = over;
    if (over) editForm.querySelector(`[data-field="${k}"]`).textContent = "set in usr.config (the user's override)";
  }
  const g = state.guests.find((x) => x.folder === folder);
  editForm.elements.address.placeholder = g && g.address && !s.address ? `default: ${g.address}` : "default: subnet + Id";
  $("edit").hidden = false;
  $("edit").scrollIntoView({ block: "nearest" });
}
editForm.onsubmit = async (ev) => {
  ev.preventDefault();
  if (!editing) return;
  editForm.querySelectorAll("[data-field]").forEach((e) => e.textContent = "");
  const body = {};
  for (const k of editFields) {
    const el = editForm.elements[k];
    if (el.disabled || el.closest("label").hidden) continue;
    const text = el.value.trim();
    const v = ["cores", "memoryMiB", "rtPriority", "diskSizeGiB"].includes(k) ? (text === "" ? null : Number(text))
            : k === "communication" ? text === "yes" : text;
    if (v !== null && v !== (editing[k] ?? "")) body[k] = v;
  }
  try {
    const { ok, data } = await send("PATCH", `/v1/guests/${encodeURIComponent(editing.folder)}/settings`, body);
    if (!ok) return showFieldError(editForm, data);
    toast([data.message, ...data.notes].join("\n"));
    $("edit").hidden = true; editing = null;
  } catch (e) { toast(e.message, true); }
};
$("edit-cancel").onclick = () => { $("edit").hidden = true; editing = null; };

// A guest's snapshots: take, revert (asked, with hvd's words for what it replaces), delete.
let snapGuest = null;
async function openSnapshots(folder) {
  snapGuest = folder;
  $("snap-error").textContent = "";
  const g = state.guests.find((x) => x.folder === folder);
  $("snap-title").textContent = `Snapshots of ${g ? g.name : folder}`;
  $("snapshots").hidden = false;
  await loadSnapshots();
  $("snapshots").scrollIntoView({ block: "nearest" });
}
async function loadSnapshots() {
  if (!snapGuest) return;
  try {
    const l = await api("GET", `/v1/guests/${encodeURIComponent(snapGuest)}/snapshots`);
    const g = state.guests.find((x) => x.folder === snapGuest), stopped = !g || ["stopped", "crashed"].includes(g.state);
    $("snap-list").innerHTML = l.snapshots.map((s) => `<tr data-snap="${esc(s.name)}"><td><b>${esc(s.name)}</b>${s.automatic ? ' <span class="sub">kept by a revert</span>' : ""}</td>
      <td>${esc(s.createdAt)}</td><td>${esc(s.contents.join(", "))}</td><td class="sub">${esc(s.note || "")}</td>
      <td style="white-space:nowrap"><button class="act" data-snap-act="revert" ${stopped && s.complete ? "" : "disabled"} title="${stopped ? "" : "stop the guest first"}">Revert</button>
        <button class="act danger" data-snap-act="delete">Delete</button></td></tr>`).join("")
      + l.diskOnly.map((t) => `<tr data-snap="${esc(t)}"><td><b>${esc(t)}</b></td><td>?</td><td>disk only</td><td class="sub">a disk snapshot hv did not take</td>
      <td><button class="act danger" data-snap-act="delete">Delete</button></td></tr>`).join("")
      || `<tr><td colspan="5" class="empty">No snapshots yet.</td></tr>`;
  } catch (e) { $("snap-error").textContent = e.message; }
}
$("snap-take").onclick = async () => {
  $("snap-error").textContent = "";
  const name = $("snap-name").value.trim();
  try {
    toast((await api("POST", `/v1/guests/${encodeURIComponent(snapGuest)}/snapshots`, { name: name || null })).message);
    $("snap-name").value = "";
  } catch (e) { $("snap-error").textContent = e.message; }
  loadSnapshots();
};
$("snap-close").onclick = () => { $("snapshots").hidden = true; snapGuest = null; };
$("snap-list").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-snap-act]"); if (!b) return;
  const name = b.closest("tr").dataset.snap, verb = b.dataset.snapAct;
  const path = `/v1/guests/${encodeURIComponent(snapGuest)}/snapshots/${encodeURIComponent(name)}/${verb}`;
  $("snap-error").textContent = "";
  try {
    // hvd says what would happen; nothing changes before the user's yes.
    const ask = await send("POST", path, { confirm: false });
    if (!ask.ok && ask.data.code !== "needsConfirmation") throw new Error(ask.data.message + (ask.data.hint ? "\n→ " + ask.data.hint : ""));
    if (!confirm(ask.data.message.charAt(0).toUpperCase() + ask.data.message.slice(1) + ".\n\n" + (verb === "revert" ? `Revert to ${name}?` : `Delete snapshot ${name}?`))) return;
    toast((await api("POST", path, { confirm: true })).message);
  } catch (e) { $("snap-error").textContent = e.message; }
  loadSnapshots();
});

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

async function loadDevices() {
  try {
    const list = await api("GET", "/v1/host/devices");
    const off = list.some((d) => d.notAssignable.some((w) => w.startsWith("the IOMMU is off")));
    $("devices-note").textContent = off ? "The IOMMU is off: no device can be given to a guest. Enable VT-d / AMD-Vi in the firmware and boot with intel_iommu=on or amd_iommu=on." : "";
    $("devices").innerHTML = list.filter((d) => !d.isBridge && (d.classCode >> 16) !== 6).map((d) => `<tr data-device="${esc(d.address)}">
      <td><code>${esc(d.address)}</code></td>
      <td>${esc([d.vendorName, d.deviceName].filter(Boolean).join(" ") || d.className)}<div class="sub">${esc(d.className)}${d.interfaces.length ? " · " + esc(d.interfaces.join(", ")) : ""}</div></td>
      <td>${d.iommuGroup ?? "none"}</td><td>${esc(d.driver || "none")}</td><td>${esc(d.heldBy || "")}</td>
      <td>${d.notAssignable.length ? '<ul class="sub">' + d.notAssignable.filter((w) => !off || !w.startsWith("the IOMMU is off")).map((w) => `<li>${esc(w)}</li>`).join("") + "</ul>" + (off ? "no" : "") : "yes"}</td></tr>`).join("")
      || `<tr><td colspan="6" class="empty">No PCI devices.</td></tr>`;
  } catch (e) { $("devices-note").textContent = e.message; }
}
document.querySelector("nav button[data-tab=devices]").addEventListener("click", loadDevices);

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
$("con-open").onclick = async () => {
  const folder = $("con-guest").value; if (!folder || ws) return;
  $("term").textContent = "";
  let t;
  try { t = await ticket(); } catch (e) { toast(e.message, true); return; }
  ws = new WebSocket(`ws://${location.host}/v1/guests/${encodeURIComponent(folder)}/console/ws?ticket=${t}`);
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
  if (action === "edit") return openEdit(folder);
  if (action === "snapshots") return openSnapshots(folder);
  if (action === "desktop") {
    let t;
    try { t = await ticket(); } catch (e) { toast(e.message, true); return; }
    const path = "v1/guests/" + encodeURIComponent(folder) + "/display/ws?ticket=" + t;
    window.open(`/novnc/vnc_lite.html?path=${encodeURIComponent(path)}&scale=true&title=${encodeURIComponent(g.name)}`, "_blank");
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

async function connect() {
  let t;
  try { t = await ticket(); } catch (e) {
    $("live").className = "live off"; $("live").lastChild.textContent = "not connected";
    if ($("denied").hidden) setTimeout(connect, 2000);
    return;
  }
  const es = new EventSource("/v1/watch?ticket=" + t);
  es.addEventListener("state", (m) => { state = JSON.parse(m.data); render(); });
  es.onopen = () => { $("live").className = "live"; $("live").lastChild.textContent = "live"; };
  // A ticket is good once: reconnect with a new one.
  es.onerror = () => { es.close(); $("live").className = "live off"; $("live").lastChild.textContent = "reconnecting…"; setTimeout(connect, 1000); };
}
$("host").textContent = location.host;
setInterval(() => document.querySelectorAll("[data-role=uptime]").forEach((td) => {
  const g = state.guests.find((x) => x.folder === td.closest("tr").dataset.folder); if (g) td.textContent = uptime(g);
}), 1000);
connect();
