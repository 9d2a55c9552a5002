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
    <div class="card" id="edit" hidden>
      <h2 id="edit-title">Edit guest</h2>
      <p class="sub">Saved in the guest's guest.config and hv.config once every field is checked; a running guest takes the changes at its next start. A field set in the guest's usr.config is the user's own override and stays as it is.</p>
      <form id="edit-form" autocomplete="off">
        <div class="grid">
          <label>Name<input name="name"><span class="field-error" data-field="name"></span></label>
          <label>Cores<input name="cores" type="number" min="1"><span class="field-error" data-field="cores"></span></label>
          <label>Memory (MiB)<input name="memoryMiB" type="number"><span class="field-error" data-field="memoryMiB"></span></label>
          <label data-for="rtos">RT priority (SCHED_FIFO, 0 = none)<input name="rtPriority" type="number" min="0" max="99"><span class="field-error" data-field="rtPriority"></span></label>
          <label data-for="rtos">Image<select name="image"></select><span class="field-error" data-field="image"></span></label>
          <label data-for="kvm">Disk image<input name="diskImage" placeholder="empty: disk.qcow2 in the guest folder"><span class="field-error" data-field="diskImage"></span></label>
          <label data-for="kvm">Disk size (GiB)<input name="diskSizeGiB" type="number"><span class="field-error" data-field="diskSizeGiB"></span></label>
          <label data-for="kvm">Installation ISO<input name="iso"><span class="field-error" data-field="iso"></span></label>
          <label data-for="kvm">ISO attached<select name="isoAttach"><option value="until-installed">until a system is installed</option><option value="always">always</option></select><span class="field-error" data-field="isoAttach"></span></label>
          <label data-for="kvm">Network<select name="networkMode"><option value="user">user (NAT through the host)</option><option value="none">none</option></select><span class="field-error" data-field="networkMode"></span></label>
          <label data-for="kvm">Communication subsystem<select name="communication"><option value="yes">yes: VMF network, shared memory, events</option><option value="no">no</option></select><span class="field-error" data-field="communication"></span></label>
          <label>VMF network address<input name="address" placeholder="default: subnet + Id"><span class="field-error" data-field="address"></span></label>
        </div>
        <button class="act primary" type="submit">Save changes</button> <button class="act" type="button" id="edit-cancel">Cancel</button>
        <span class="field-error" data-field="general"></span>
      </form>
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
"""# + ManagerScript.source + #"""
</script>
</body>
</html>
"""#
}
