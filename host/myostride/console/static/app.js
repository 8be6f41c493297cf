// myostride console page: a client of the console's JSON API and live WebSocket.
// No framework, no build step, nothing from the network but our own server.
"use strict";

const CSRF = document.querySelector('meta[name="myostride-csrf"]').content;
const WINDOW_S = 10;  // seconds of trace on screen
const S = { schema: null, study: null, state: null, nodes: [], mapping: {}, pick: null, live: null, ws: null,
            traces: {}, ticks: [], arrival: null, drawnArrival: null, backend: null };
// Performance hook for bench_console.py and the tests: arrival-to-pixel latency and frame count.
window.myostridePerf = { latency_ms: [], frames: 0, started_ms: performance.now(), updates: 0 };

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};

async function api(method, path, body) {
  const opts = { method, headers: { "X-Myostride-CSRF": CSRF }, credentials: "same-origin" };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = { error: await r.text().catch(() => r.statusText) }; }
  if (!r.ok && !(data && data.problems)) throw new Error((data && data.error) || r.statusText);
  return data;
}

function say(text, ok) {
  const m = $("#message");
  m.textContent = text; m.hidden = !text; m.classList.toggle("ok", !!ok);
}

// ------------------------------------------------------------------ steps

function show(step) {
  document.querySelectorAll(".step").forEach((s) => { s.hidden = s.id !== "step-" + step; });
  document.querySelectorAll("#steps button").forEach((b) => {
    if (b.dataset.step === step) b.setAttribute("aria-current", "step"); else b.removeAttribute("aria-current");
  });
  location.hash = step;
  say("");
  if (step === "record" || step === "review" || step === "report") refreshTrials();
  if (step === "sensors") renderNodes();
}

// ------------------------------------------------------------------ 1 study

function buildForm() {
  const form = $("#clinical-form");
  form.innerHTML = "";
  let group = null, groupName = null;
  for (const f of S.schema.fields) {
    const parts = f.key.split(".");
    const parent = parts.length > 1 ? parts[0] : null;
    if (parent !== groupName) {
      groupName = parent;
      group = parent ? el("fieldset", {}, el("legend", { text: parent.replace(/_/g, " ") })) : null;
      if (group) form.append(group);
    }
    const id = "f-" + f.key;
    let input;
    if (f.kind === "enum") {
      input = el("select", { id });
      input.append(el("option", { value: "", text: "(not recorded)" }));
      for (const c of f.choices) input.append(el("option", { value: c, text: c }));
    } else if (["interpretation", "indication", "clinical_question", "management_plan", "prior_conservative_care",
                "gait_history_exam", "functional_measures", "trial_status_reason"].includes(f.key)) {
      input = el("textarea", { id, rows: "2" });
    } else {
      input = el("input", { id, type: f.kind === "date" ? "date" : "text" });
      const ph = { icd10_list: "e.g. G80.1, R26.89", cpt_list: "e.g. 95851", muscle_list: "e.g. left:tibialis_anterior",
                   age: "years", number_mm: "mm" }[f.kind];
      if (ph) input.placeholder = ph;
    }
    input.dataset.key = f.key; input.dataset.kind = f.kind;
    input.setAttribute("aria-describedby", "e-" + f.key);
    input.addEventListener("input", scheduleValidate);
    const label = el("label", { for: id, text: f.key.replace(/\./g, " ").replace(/_/g, " ") + ((f.key === "patient.id" || f.key === "date_of_service") ? " (required)" : "") });
    const row = el("div", { class: "field" }, label, input, el("span", { class: "err", id: "e-" + f.key }));
    (group || form).append(row);
  }
}

function setPath(obj, key, v) {
  const parts = key.split(".");
  let o = obj;
  for (const p of parts.slice(0, -1)) o = (o[p] = o[p] || {});
  o[parts[parts.length - 1]] = v;
}

function getPath(obj, key) {
  return key.split(".").reduce((o, p) => (o && typeof o === "object" ? o[p] : undefined), obj);
}

function formValue() {
  const out = {};
  document.querySelectorAll("#clinical-form [data-key]").forEach((inp) => {
    const raw = inp.value.trim();
    if (!raw) return;
    const kind = inp.dataset.kind;
    let v = raw;
    if (kind === "age" || kind === "number_mm") v = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    else if (kind === "icd10_list" || kind === "cpt_list") v = raw.split(",").map((s) => s.trim()).filter(Boolean);
    else if (kind === "muscle_list") v = raw.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
      const [side, muscle] = s.split(":"); return muscle === undefined ? { muscle: side } : { side, muscle };
    });
    else if (inp.tagName !== "TEXTAREA" && inp.tagName !== "SELECT") v = inp.value;
    setPath(out, inp.dataset.key, v);
  });
  return out;
}

function fillForm(clinical) {
  document.querySelectorAll("#clinical-form [data-key]").forEach((inp) => {
    const v = getPath(clinical, inp.dataset.key);
    if (v === undefined || v === null) { inp.value = ""; return; }
    if (inp.dataset.kind === "muscle_list") inp.value = v.map((m) => (m.side ? m.side + ":" : "") + m.muscle).join(", ");
    else inp.value = Array.isArray(v) ? v.join(", ") : String(v);
  });
}

let validateTimer = null;
function scheduleValidate() { clearTimeout(validateTimer); validateTimer = setTimeout(validate, 250); }

function showProblems(problems) {
  document.querySelectorAll("#clinical-form .err").forEach((e) => { e.textContent = ""; });
  document.querySelectorAll("#clinical-form [data-key]").forEach((i) => i.removeAttribute("aria-invalid"));
  const list = $("#clinical-problems");
  list.innerHTML = "";
  for (const p of problems) {
    const key = p.split(":")[0].replace(/\[\d+\]/g, "");
    const err = document.getElementById("e-" + key) || document.getElementById("e-" + key.split(".")[0] + "." + key.split(".")[1]);
    const inp = document.getElementById("f-" + key);
    if (err) err.textContent = (err.textContent ? err.textContent + "; " : "") + p;
    if (inp) inp.setAttribute("aria-invalid", "true");
    list.append(el("li", { text: p }));
  }
}

async function validate() {
  const r = await api("POST", "/api/clinical/validate", { clinical: formValue() });
  showProblems(r.problems);
  return r.problems;
}

async function saveStudy() {
  const clinical = formValue();
  if (S.study) {
    const r = await api("PUT", `/api/studies/${S.study}/clinical`, { clinical });
    showProblems(r.problems || []);
    if (!(r.problems || []).length) say("Study saved.", true);
    return;
  }
  const r = await api("POST", "/api/studies", { clinical });
  if (r.problems) { showProblems(r.problems); say("Fix the fields marked above, then create the study."); return; }
  await loadStudies(r.id);
  say("Study created. Next: Sensors.", true);
}

async function loadStudies(select) {
  const st = await api("GET", "/api/state");
  S.backend = st;
  const sel = $("#study-select");
  sel.innerHTML = "";
  sel.append(el("option", { value: "", text: "(new study)" }));
  for (const s of st.studies) sel.append(el("option", { value: s.id, text: `${s.patient_id || "?"} - ${s.date_of_service || ""} (${s.trials} trials)` }));
  $("#backend-note").textContent = st.simulated ? "SIMULATED NODES (training/demo): data are labelled simulated" : "backend: " + st.backend;
  $("#sim-box").hidden = !st.simulated;
  $("#sim-status").textContent = st.sim && st.sim.running ? "running" + (st.sim.nodes ? ` (${st.sim.nodes} nodes)` : "") : "not started";
  const want = select !== undefined ? select : (st.recording ? st.recording.study : localStorage.getItem("myostride-study"));
  if (want && st.studies.some((s) => s.id === want)) { sel.value = want; await openStudy(want); }
  else { sel.value = ""; await openStudy(""); }
  return st;
}

async function refreshStudyLabels() {
  const st = await api("GET", "/api/state");
  for (const s of st.studies) {
    const o = [...$("#study-select").options].find((x) => x.value === s.id);
    if (o) o.textContent = `${s.patient_id || "?"} - ${s.date_of_service || ""} (${s.trials} trials)`;
  }
}

async function openStudy(id) {
  S.study = id || null;
  if (id) localStorage.setItem("myostride-study", id); else localStorage.removeItem("myostride-study");
  $("#study-save").textContent = id ? "Save study" : "Create study";
  if (!id) { fillForm({}); S.state = null; S.mapping = {}; showProblems([]); return; }
  const r = await api("GET", `/api/studies/${id}`);
  S.state = r.state;
  fillForm(r.clinical);
  showProblems([]);
  S.mapping = {};
  for (const m of r.state.mapping || []) S.mapping[m.node_id] = m;
  for (const m of r.state.mapping || []) if (!S.nodes.some((n) => n.node_id === m.node_id)) S.nodes.push({ node_id: m.node_id });
  const ib = r.clinical.interpreted_by || {};
  $("#int-name").value = ib.name || ""; $("#int-cred").value = ib.credentials || ""; $("#int-spec").value = ib.specialty || "";
  $("#int-text").value = r.clinical.interpretation || "";
  renderNodes();
  renderCheck(r.check);
}

// ------------------------------------------------------------------ 2 sensors

const REGIONS = [  // [muscle, abbreviation, view, dy, dx (+ = lateral)]
  ["tensor_fasciae_latae", "TFL", "front", 75, 22], ["adductor_longus", "AL", "front", 105, -14],
  ["rectus_femoris", "RF", "front", 135, 2], ["vastus_lateralis", "VL", "front", 180, 20],
  ["vastus_medialis", "VM", "front", 205, -12], ["tibialis_anterior", "TA", "front", 280, 8],
  ["peroneus_longus", "PL", "front", 315, 22],
  ["gluteus_medius", "GMed", "back", 55, 20], ["gluteus_maximus", "GMax", "back", 85, 0],
  ["biceps_femoris", "BF", "back", 160, 16], ["semitendinosus", "ST", "back", 165, -14],
  ["gastrocnemius_medialis", "GM", "back", 265, -12], ["gastrocnemius_lateralis", "GL", "back", 265, 16],
  ["soleus", "SOL", "back", 330, 0],
];

function buildDiagram() {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 420 400"); svg.setAttribute("width", "420"); svg.setAttribute("role", "group");
  svg.setAttribute("aria-label", "body diagram: legs from the front (left) and from the back (right)");
  const add = (parent, tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    parent.append(e); return e;
  };
  // legs: [view, side, centre x, lateral direction on screen]
  const legs = [["front", "right", 60, -1], ["front", "left", 140, 1], ["back", "left", 280, -1], ["back", "right", 360, 1]];
  add(svg, "text", { x: 100, y: 14, "text-anchor": "middle" }, "FRONT");
  add(svg, "text", { x: 320, y: 14, "text-anchor": "middle" }, "BACK");
  for (const [view, side, cx, lat] of legs) {
    add(svg, "rect", { x: cx - 28, y: 40, width: 56, height: 200, rx: 20, fill: "#f3efe9", stroke: "#998" });
    add(svg, "rect", { x: cx - 20, y: 240, width: 40, height: 140, rx: 14, fill: "#f3efe9", stroke: "#998" });
    add(svg, "text", { x: cx, y: 396, "text-anchor": "middle", "font-size": "11" }, side === "left" ? "L (left)" : "R (right)");
    for (const [muscle, abbr, v, dy, dx] of REGIONS) {
      if (v !== view) continue;
      const g = add(svg, "g", { class: "region", tabindex: "0", role: "button", "data-side": side, "data-muscle": muscle,
                                "aria-label": `${side} ${muscle.replace(/_/g, " ")}` });
      add(g, "title", {}, `${side} ${muscle.replace(/_/g, " ")}`);
      add(g, "ellipse", { cx: cx + lat * dx, cy: dy, rx: 15, ry: 13 });
      add(g, "text", { x: cx + lat * dx, y: dy + 3, "text-anchor": "middle" }, abbr);
      const act = () => assignFromDiagram(side, muscle);
      g.addEventListener("click", act);
      g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); act(); } });
    }
  }
  $("#body-diagram").append(svg);
}

function assignFromDiagram(side, muscle) {
  if (S.pick === null) { say("Pick a node first: its \"on diagram\" button in the table."); return; }
  S.mapping[S.pick] = { node_id: S.pick, side, muscle };
  showPlacement(muscle);
  renderNodes();
}

function showPlacement(muscle) {
  const hint = (S.schema.placement || {})[muscle];
  $("#placement").textContent = hint ? `Placement: ${muscle.replace(/_/g, " ")} (hardware/electrode-placement.md, SENIAM)\n${hint}` : "";
}

function renderNodes() {
  const body = $("#node-table tbody");
  body.innerHTML = "";
  for (const n of S.nodes.slice().sort((a, b) => a.node_id - b.node_id)) {
    const m = S.mapping[n.node_id] || {};
    const side = el("select", { "aria-label": `side of node ${n.node_id}`, id: `side-${n.node_id}` });
    side.append(el("option", { value: "", text: "(not used)" }));
    for (const s of S.schema.sides) side.append(el("option", { value: s, text: s }));
    side.value = m.side || "";
    const mus = el("select", { "aria-label": `muscle of node ${n.node_id}`, id: `muscle-${n.node_id}` });
    mus.append(el("option", { value: "", text: "(choose)" }));
    for (const x of S.schema.muscles) mus.append(el("option", { value: x.id, text: x.name }));
    mus.value = m.muscle || "";
    const upd = () => {
      if (side.value && mus.value) S.mapping[n.node_id] = { node_id: n.node_id, side: side.value, muscle: mus.value };
      else delete S.mapping[n.node_id];
      if (mus.value) showPlacement(mus.value);
      markDiagram();
    };
    side.addEventListener("change", upd); mus.addEventListener("change", upd);
    const pick = el("button", { type: "button", "aria-pressed": String(S.pick === n.node_id), text: S.pick === n.node_id ? "picked" : "pick",
                                onclick: () => { S.pick = n.node_id; renderNodes(); } });
    const ident = el("button", { type: "button", text: "identify (blink LED)", onclick: async () => {
      try { await api("POST", "/api/identify", { node_id: n.node_id }); say(`Node ${n.node_id} is blinking its LED for 5 s.`, true); }
      catch (e) { say(e.message); }
    } });
    body.append(el("tr", { id: `node-row-${n.node_id}` }, el("td", { text: `${n.node_id}${n.name ? " (" + n.name + ")" : ""}` }),
      el("td", { text: n.battery_pct != null ? n.battery_pct + " %" : "-" }), el("td", { text: n.rssi_dbm != null ? n.rssi_dbm + " dBm" : "-" }),
      el("td", {}, side), el("td", {}, mus), el("td", {}, pick), el("td", {}, ident)));
  }
  markDiagram();
}

function markDiagram() {
  document.querySelectorAll(".region").forEach((g) => {
    const hit = Object.values(S.mapping).find((m) => m.side === g.dataset.side && m.muscle === g.dataset.muscle);
    g.classList.toggle("assigned", !!hit);
    const t = g.querySelector("title");
    t.textContent = `${g.dataset.side} ${g.dataset.muscle.replace(/_/g, " ")}` + (hit ? ` - node ${hit.node_id}` : "");
    g.setAttribute("aria-label", t.textContent);
  });
}

async function scan() {
  $("#scan-status").textContent = "scanning (3 s)...";
  try {
    const r = await api("POST", "/api/scan");
    const known = new Set(r.nodes.map((n) => n.node_id));
    S.nodes = r.nodes.concat(S.nodes.filter((n) => !known.has(n.node_id) && S.mapping[n.node_id]));
    $("#scan-status").textContent = `${r.nodes.length} node(s) found`;
    renderNodes();
  } catch (e) { $("#scan-status").textContent = ""; say(e.message); }
}

async function saveMapping() {
  if (!S.study) { say("Create or open a study first (step 1)."); return; }
  try {
    const r = await api("PUT", `/api/studies/${S.study}/mapping`, { mapping: Object.values(S.mapping) });
    $("#mapping-status").textContent = `saved: ${r.mapping.length} node(s)`;
    say("Assignment saved. Next: Check.", true);
  } catch (e) { say(e.message); }
}

async function startSim() {
  $("#sim-status").textContent = "starting...";
  try {
    const r = await api("POST", "/api/sim/start", { nodes: Number($("#sim-nodes").value) });
    $("#sim-status").textContent = `running (${r.nodes || "?"} nodes)`;
  } catch (e) { $("#sim-status").textContent = ""; say(e.message); }
}

// ------------------------------------------------------------------ 3 check

async function runCheck() {
  if (!S.study) { say("Create or open a study first (step 1)."); return; }
  try { await api("POST", `/api/studies/${S.study}/check`); } catch (e) { say(e.message); return; }
  $("#check-status").textContent = "checking: self-test, then 5 s of signal...";
  pollCheck();
}

async function pollCheck() {
  const r = await api("GET", `/api/studies/${S.study}/check`);
  renderCheck(r);
  if (r.state === "running") setTimeout(pollCheck, 1000);
}

function renderCheck(r) {
  const body = $("#check-table tbody");
  if (!r || r.state === "none") { $("#check-status").textContent = ""; return; }
  if (r.state === "running") { $("#check-status").textContent = "checking: self-test, then 5 s of signal..."; return; }
  if (r.state === "failed") { $("#check-status").textContent = "check failed: " + r.error; return; }
  const res = r.result;
  $("#check-status").textContent = res.passed ? "\u2713 ALL PASS: ready to record" : "\u2717 something to fix (see below)";
  $("#check-status").className = res.passed ? "pass" : "fail";
  body.innerHTML = "";
  for (const n of res.nodes) {
    const q = n.quality || {};
    body.append(el("tr", { id: `check-row-${n.node_id}` }, el("td", { text: String(n.node_id) }),
      el("td", { text: `${n.side} ${n.muscle.replace(/_/g, " ")}` }),
      el("td", { class: n.passed ? "pass" : "fail", text: n.passed ? "\u2713 PASS" : "\u2717 FAIL" }),
      el("td", { text: n.battery_pct != null ? n.battery_pct + " %" : "-" }),
      el("td", { text: q.baseline_noise_uv != null ? q.baseline_noise_uv.toFixed(1) : "-" }),
      el("td", { text: n.problems.map((p) => `${p.what}: ${p.fix}`).join("\n") || "nothing" })));
  }
}

// ------------------------------------------------------------------ 4 record

function ensureTraces() {
  const box = $("#traces");
  const maps = (S.state && S.state.mapping) || [];
  const want = maps.map((m) => m.node_id).join(",");
  if (box.dataset.nodes === want) return;
  box.dataset.nodes = want;
  box.innerHTML = "";
  S.traces = {};
  for (const m of maps) {
    const canvas = el("canvas", { role: "img", "aria-label": `live EMG of ${m.side} ${m.muscle.replace(/_/g, " ")}` });
    const badges = el("div", { class: "badges", id: `badges-${m.node_id}` });
    const div = el("div", { class: "trace", id: `trace-${m.node_id}` },
      el("div", { class: "title", text: `${m.side === "left" ? "L" : "R"} ${m.muscle.replace(/_/g, " ")} (node ${m.node_id})` }), badges, canvas);
    box.append(div);
    S.traces[m.node_id] = { canvas, badges, side: m.side, rows: [], scale: 0, dirty: true, paths: null };
  }
}

function connectLive(study, trial) {
  if (S.ws) { S.ws.onclose = null; S.ws.close(); }
  ensureTraces();
  for (const t of Object.values(S.traces)) t.rows = [];
  S.ticks = [];
  const ws = new WebSocket(`ws://${location.host}/ws/live?study=${encodeURIComponent(study)}&trial=${encodeURIComponent(trial)}`);
  S.ws = ws;
  S.live = { study, trial };
  ws.onmessage = (ev) => onLive(JSON.parse(ev.data));
  ws.onclose = () => { if (S.ws === ws) S.ws = null; };
}

function onLive(msg) {
  if (msg.type !== "live") return;
  window.myostridePerf.updates++;
  for (const [nid, rows] of Object.entries(msg.nodes || {})) {
    const t = S.traces[nid];
    if (!t) continue;
    for (const r of rows) t.rows.push(r);
    t.dirty = true;
    const newest = t.rows.length ? t.rows[t.rows.length - 1][0] : 0;
    let cut = 0;
    while (cut < t.rows.length && t.rows[cut][0] < newest - WINDOW_S - 1) cut++;
    if (cut) t.rows.splice(0, cut);
  }
  for (const k of msg.ticks || []) S.ticks.push(k);
  if (S.ticks.length > 200) S.ticks.splice(0, S.ticks.length - 200);
  if (msg.arrival_wall_ms) S.arrival = msg.arrival_wall_ms;
  for (const [nid, b] of Object.entries(msg.badges || {})) renderBadges(nid, b);
  const st = $("#rec-status");
  if (msg.finished) {
    st.textContent = `trial ${msg.trial} ${msg.finished.status}` + (msg.finished.duration_s ? ` (${msg.finished.duration_s.toFixed(1)} s)` : "") +
      (msg.finished.error ? ": " + msg.finished.error : "");
    $("#rec-start").disabled = false; $("#rec-stop").disabled = true;
    refreshTrials();
    refreshStudyLabels();
  } else {
    const phase = msg.phase && msg.phase !== "recording" ? ` (${msg.phase})` : "";
    st.textContent = `recording ${msg.trial}${phase}: ${(msg.elapsed_s || 0).toFixed(1)} s` + (msg.seconds ? ` of ${msg.seconds} s` : "") +
      (msg.stopping ? " (stopping: fetching missing packets)" : "");
    $("#rec-start").disabled = true; $("#rec-stop").disabled = false;
  }
}

function renderBadges(nid, b) {
  const box = document.getElementById(`badges-${nid}`);
  if (!box) return;
  const items = [
    [b.connected ? "link up" : "\u2717 LINK DOWN", !b.connected],
    [`recovered ${b.recovered ?? "-"}`, false],
    [`lost ${b.lost ?? 0}`, !!b.lost],
    [`battery ${b.battery_pct ?? "-"} %`, b.battery_pct != null && b.battery_pct < 20],
    [`RSSI ${b.rssi_dbm ?? "-"} dBm`, false],
    [b.lead_off ? "\u26A0 LEAD-OFF" : "electrodes ok", !!b.lead_off],
    [b.clipping_pct > 0.5 ? `\u26A0 CLIPPING ${b.clipping_pct} %` : `clipping ${b.clipping_pct ?? 0} %`, b.clipping_pct > 0.5],
  ];
  box.replaceChildren(...items.map(([text, bad]) => el("span", { class: "badge" + (bad ? " bad" : ""), text })));
}

function rebuild(t, w, h) {
  // Paths in time units (x = seconds * px/s), rebuilt only when rows arrive; frames just shift them.
  let peak = 10;
  for (const r of t.rows) peak = Math.max(peak, Math.abs(r[1]), Math.abs(r[2]));
  t.scale = t.scale ? 0.8 * t.scale + 0.2 * peak : peak;
  const pxs = w / WINDOW_S, y = (uv) => h / 2 - (uv / t.scale) * (h / 2 - 2);
  const raw = new Path2D(), env = new Path2D();
  t.rows.forEach((r, i) => {
    const x = r[0] * pxs;
    raw.moveTo(x, y(r[1])); raw.lineTo(x, y(r[2]));
    const ye = h - 2 - (r[3] / t.scale) * (h - 4);
    if (i) env.lineTo(x, ye); else env.moveTo(x, ye);
  });
  t.paths = { raw, env, w, h };
  t.dirty = false;
}

function draw() {
  const now = performance.timeOrigin + performance.now();
  let tEnd = 0;
  for (const t of Object.values(S.traces)) if (t.rows.length) tEnd = Math.max(tEnd, t.rows[t.rows.length - 1][0]);
  for (const t of Object.values(S.traces)) {
    const c = t.canvas;
    const w = c.clientWidth | 0, h = c.clientHeight | 0;
    if (!w || !h) continue;
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; t.dirty = true; }
    const g = c.getContext("2d");
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, w, h);
    if (!t.rows.length) continue;
    if (t.dirty || !t.paths) rebuild(t, w, h);
    const pxs = w / WINDOW_S;
    g.setTransform(1, 0, 0, 1, w - tEnd * pxs, 0);
    g.strokeStyle = "#8fa7c0"; g.lineWidth = 1; g.stroke(t.paths.raw);
    g.strokeStyle = "#102a43"; g.lineWidth = 2; g.stroke(t.paths.env);
    g.setTransform(1, 0, 0, 1, 0, 0);
    const x = (ts) => w - ((tEnd - ts) / WINDOW_S) * w;
    g.fillStyle = "#000"; g.strokeStyle = "#000"; g.lineWidth = 1; g.font = "10px sans-serif";
    for (const k of S.ticks) {
      if (k.side !== t.side || k.t_s < tEnd - WINDOW_S) continue;
      const xx = x(k.t_s);
      g.beginPath();
      if (k.kind === "FS") { g.moveTo(xx, 10); g.lineTo(xx - 4, 2); g.lineTo(xx + 4, 2); g.closePath(); g.fill(); }
      else { g.arc(xx, 6, 4, 0, 2 * Math.PI); g.stroke(); }
      g.fillText(k.kind, xx + 5, 10);
    }
    g.fillText(`\u00B1${Math.round(t.scale)} uV, ${WINDOW_S} s; thin: raw, thick: envelope`, 4, h - 4);
  }
  const perf = window.myostridePerf;
  perf.frames++;
  if (S.arrival && S.arrival !== S.drawnArrival) {
    S.drawnArrival = S.arrival;
    const lat = now - S.arrival;
    perf.latency_ms.push(lat);
    if (perf.latency_ms.length > 20000) perf.latency_ms.splice(0, 10000);
    performance.mark("myostride-drawn", { detail: { arrival_wall_ms: S.arrival, latency_ms: lat } });
  }
  requestAnimationFrame(draw);
}

async function startRecording() {
  if (!S.study) { say("Create or open a study first (step 1)."); return; }
  const secs = $("#rec-seconds").value.trim();
  try {
    const r = await api("POST", `/api/studies/${S.study}/trials`, { seconds: secs === "" ? null : Number(secs), notes: $("#rec-notes").value });
    S.state = (await api("GET", `/api/studies/${S.study}`)).state;
    S.currentTrial = r.id;
    connectLive(S.study, r.id);
    refreshTrials();
  } catch (e) { say(e.message); }
}

async function stopRecording() {
  if (!S.live) return;
  try { await api("POST", `/api/studies/${S.live.study}/trials/${S.live.trial}/stop`); $("#rec-status").textContent += " (stopping...)"; }
  catch (e) { say(e.message); }
}

async function saveNotes() {
  const tid = S.currentTrial || (S.live && S.live.trial);
  if (!tid) { say("Notes belong to a trial: start one first (or they are saved with the next Start)."); return; }
  await api("PUT", `/api/studies/${S.study}/trials/${tid}/notes`, { notes: $("#rec-notes").value });
  say("Notes saved with " + tid + ".", true);
  refreshTrials();
}

async function refreshTrials() {
  if (!S.study) return;
  const r = await api("GET", `/api/studies/${S.study}/trials`);
  const body = $("#trial-table tbody");
  body.innerHTML = "";
  for (const t of r.trials) {
    const got = t.nodes.reduce((a, n) => a + n.samples.received, 0), exp = t.nodes.reduce((a, n) => a + n.samples.expected, 0);
    body.append(el("tr", {}, el("td", { text: t.id }), el("td", { text: t.status + (t.end_reason ? ` (${t.end_reason})` : "") }),
      el("td", { text: t.duration_s != null ? t.duration_s.toFixed(1) + " s" : "-" }),
      el("td", { text: exp ? `${got}/${exp}` : "-" }), el("td", { text: t.notes || "" })));
  }
  document.querySelectorAll(".trial-select").forEach((sel) => {
    const keep = sel.value;
    sel.innerHTML = "";
    for (const t of r.trials.filter((x) => x.status !== "recording" && x.status !== "empty")) sel.append(el("option", { value: t.id, text: `${t.id} (${t.status})` }));
    if (keep && [...sel.options].some((o) => o.value === keep)) sel.value = keep;
    else if (sel.options.length) sel.value = sel.options[sel.options.length - 1].value;
  });
}

// ------------------------------------------------------------------ 5 review

async function runReview() {
  const tid = $("#review-trial").value;
  if (!tid) { say("No finished trial yet: record one first."); return; }
  $("#review-status").textContent = "analysing...";
  let r;
  try { r = await api("GET", `/api/studies/${S.study}/trials/${tid}/review`); } catch (e) { $("#review-status").textContent = ""; say(e.message); return; }
  $("#review-status").textContent = `analysed: ${r.muscles.length} muscle(s), events from ${r.events_source || "-"}` + (r.simulated ? " - SIMULATED DATA" : "");
  const out = $("#review-out");
  out.innerHTML = "";
  const gait = el("table", { class: "grid", id: "gait-table" }, el("tr", {}, ...["side", "strides", "stride time s", "stance %", "cadence steps/min"].map((h) => el("th", { text: h }))));
  const pm = (v, d) => (v && v.mean != null ? `${v.mean.toFixed(d)} \u00B1 ${(v.sd || 0).toFixed(d)}` : "-");
  for (const [side, g] of Object.entries(r.gait || {})) {
    if (!g || !g.strides) continue;
    gait.append(el("tr", {}, el("td", { text: side }), el("td", { text: String(g.strides) }),
      el("td", { text: pm(g.stride_time_s, 2) }), el("td", { text: pm(g.stance_pct, 1) }),
      el("td", { text: g.cadence_steps_per_min ? g.cadence_steps_per_min.toFixed(0) : "-" })));
  }
  out.append(el("h3", { text: "Gait" }), gait);
  const grid = el("div", { class: "review-grid" });
  for (const side of ["left", "right"]) {
    const col = el("div", {}, el("h3", { text: side === "left" ? "Left" : "Right" }));
    for (const m of r.muscles.filter((x) => x.side === side)) {
      const flags = m.flags.map((f) => `${f.kind}${f.detail ? ": " + f.detail : ""}`).join("; ") || "no flags";
      col.append(el("div", { class: "muscle-card" + (m.usable ? "" : " unusable"), id: `review-${m.label}` },
        el("strong", { text: `${m.name} ${m.usable ? "" : "\u2717 NOT USABLE (technical)"}` }),
        el("img", { src: m.figure, alt: `${m.name}: envelope over the gait cycle with the normal activation band, and stride raster. ${flags}` }),
        el("div", { text: `strides used ${m.strides_used}, excluded ${m.strides_excluded}. Flags: ${flags}` }),
        m.usable ? "" : el("div", { class: "fail", text: "Why: " + m.reasons.join("; ") })));
    }
    grid.append(col);
  }
  out.append(grid);
  const list = (id, title, items, empty) => el("div", { id }, el("h3", { text: title }),
    items.length ? el("ul", {}, ...items.map((t) => el("li", { text: t }))) : el("p", { text: empty }));
  out.append(list("clinical-findings", "Clinical findings (usable channels only)", r.clinical_findings, "none: activation timing within the normal windows"),
             list("technical-findings", "Technical problems (kept apart from clinical findings)", r.technical_findings, "none"));
}

// ------------------------------------------------------------------ 6 interpretation

async function saveInterpretation() {
  if (!S.study) { say("Create or open a study first (step 1)."); return; }
  const r = await api("PUT", `/api/studies/${S.study}/interpretation`, { text: $("#int-text").value,
    interpreted_by: { name: $("#int-name").value.trim(), credentials: $("#int-cred").value.trim(), specialty: $("#int-spec").value.trim() } });
  const list = $("#int-problems");
  list.innerHTML = "";
  for (const p of r.problems || []) list.append(el("li", { text: p }));
  $("#int-status").textContent = (r.problems || []).length ? "\u2717 not saved" : "\u2713 saved in the study's clinical file";
}

// ------------------------------------------------------------------ 7 report

async function runReport() {
  const tid = $("#report-trial").value;
  if (!tid) { say("No finished trial yet: record one first."); return; }
  $("#report-status").textContent = "writing summary, HTML and PDF...";
  let r;
  try { r = await api("POST", `/api/studies/${S.study}/trials/${tid}/report`); } catch (e) { $("#report-status").textContent = ""; say(e.message); return; }
  $("#report-status").textContent = "\u2713 report ready";
  const base = `/api/studies/${S.study}/reports/${tid}/`;
  const out = $("#report-out");
  out.innerHTML = "";
  out.append(el("p", {}, el("a", { href: base + "report.html", target: "_blank", id: "open-html", text: "Open report (HTML)" }), " \u00B7 ",
    el("a", { href: base + "report.pdf?download=1", id: "download-pdf", text: "Download PDF" }), " \u00B7 ",
    el("a", { href: base + "summary.json?download=1", text: "summary.json" })));
  const coding = el("table", { class: "grid", id: "coding-table" }, el("tr", {}, ...["code", "units", "modifiers", "what"].map((h) => el("th", { text: h }))));
  for (const ln of r.coding.lines || []) coding.append(el("tr", {}, el("td", { text: ln.code }), el("td", { text: String(ln.units) }),
    el("td", { text: (ln.modifiers || []).join(", ") || "-" }), el("td", { text: ln.description || ln.reason || "" })));
  out.append(el("h3", { text: `96002 summary: ${r.muscles_tested} muscle(s) tested` + (r.simulated ? " (SIMULATED DATA)" : "") }),
    el("p", { text: r.muscles_tested_list.join(", ") }), coding);
  const payer = el("table", { class: "grid", id: "payer-table" }, el("tr", {}, el("th", { text: "payer criterion" }), el("th", { text: "met" }), el("th", { text: "detail" })));
  for (const c of r.payer_criteria) payer.append(el("tr", {}, el("td", { text: c.id.replace(/_/g, " ") }),
    el("td", { class: c.met ? "pass" : "fail", text: c.met === true ? "\u2713 yes" : c.met === false ? "\u2717 no" : "? unknown" }), el("td", { text: c.detail })));
  out.append(el("h3", { text: "Payer checklist" }), payer,
    el("p", { text: r.documentation.complete ? "\u2713 documentation complete" : "\u2717 documentation missing: " + r.documentation.missing.join(", ") }),
    el("iframe", { class: "report", src: base + "report.html", title: "report preview" }));
}

// ------------------------------------------------------------------ start

async function main() {
  S.schema = await api("GET", "/api/schema");
  buildForm();
  buildDiagram();
  document.querySelectorAll("#steps button").forEach((b) => b.addEventListener("click", () => show(b.dataset.step)));
  $("#study-select").addEventListener("change", (e) => openStudy(e.target.value));
  $("#study-save").addEventListener("click", () => saveStudy().catch((e) => say(e.message)));
  $("#scan").addEventListener("click", scan);
  $("#sim-start").addEventListener("click", startSim);
  $("#mapping-save").addEventListener("click", saveMapping);
  $("#check-run").addEventListener("click", runCheck);
  $("#rec-start").addEventListener("click", startRecording);
  $("#rec-stop").addEventListener("click", stopRecording);
  $("#notes-save").addEventListener("click", () => saveNotes().catch((e) => say(e.message)));
  $("#review-run").addEventListener("click", runReview);
  $("#int-save").addEventListener("click", () => saveInterpretation().catch((e) => say(e.message)));
  $("#report-run").addEventListener("click", runReport);
  const st = await loadStudies();
  // Reopened page: show the running trial (the recording never depended on the page).
  if (st.recording && st.recording.study === S.study) {
    S.currentTrial = st.recording.trial;
    show("record");
    connectLive(st.recording.study, st.recording.trial);
  } else {
    show((location.hash || "#study").slice(1) || "study");
  }
  requestAnimationFrame(draw);
  document.body.dataset.ready = "1";
}

window.addEventListener("unhandledrejection", (e) => say("page error: " + (e.reason && e.reason.message || e.reason)));
window.addEventListener("error", (e) => say("page error: " + e.message));
main().catch((e) => say("console failed to start: " + e.message));
