// The review page: polls /api/state once a second, draws one card per episode, filters and sorts them in
// place, opens an episode view (cameras side by side, traces on one time axis), and asks the server to
// curate. No framework, no network: everything it needs is this file, app.css and index.html.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const COLORS = ["#2563eb", "#c0392b", "#2e8b57", "#b7791f", "#7c3aed", "#0891b2", "#db2777", "#4b5563",
  "#65a30d", "#ea580c", "#0d9488", "#9333ea", "#be123c", "#1d4ed8", "#15803d", "#a16207", "#475569", "#e11d48"];
const S = {
  version: null, episodes: [], cards: new Map(), selected: new Set(), readOnly: null, thresholds: {},
  fps: 10, firstPaint: null, episode: null,
};
window.__review = { timings: [] };  // the benchmark and the tests read these

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
function fmt(x, digits = 2) { return x === null || x === undefined ? "-" : Number(x).toFixed(digits); }

// --- polling ----------------------------------------------------------------------------------------

async function poll() {
  try {
    const response = await fetch(`/api/state?v=${S.version ?? ""}`);
    apply(await response.json());
  } catch (err) {
    banner([{ cls: "problem", text: `the review server does not answer (${err.message}); retrying` }]);
  }
  setTimeout(poll, POLL_MS);
}

function apply(st) {
  $("root").textContent = st.root || "";
  S.readOnly = st.read_only || st.problem || null;
  S.thresholds = st.thresholds || {};
  S.fps = st.fps || S.fps;
  S.state = st;
  if (st.episodes !== undefined) {
    S.version = st.version;
    S.episodes = st.episodes;
    renderCards();
    renderSummary();
    renderHistograms();
    updateReasonOptions();
    if (S.firstPaint === null) { S.firstPaint = performance.now(); window.__review.firstPaint = S.firstPaint; }
  }
  renderBanner(st);
  renderCuration(st);
}

function banner(lines) {
  $("banner").innerHTML = lines.map((l) => `<div class="${l.cls || ""}">${esc(l.text)}</div>`).join("");
}

function renderBanner(st) {
  const lines = [];
  if (st.problem) lines.push({ cls: "problem", text: st.problem });
  else if (st.read_only) lines.push({ cls: "problem", text: st.read_only });
  for (const note of st.notes || []) lines.push({ text: note });
  const job = st.scoring;
  if (job && job.error) lines.push({ cls: "problem", text: job.error });
  if (job && job.note) lines.push({ text: job.note });
  if (st.message) lines.push({ cls: st.message.ok ? "ok" : "problem", text: st.message.text });
  banner(lines);
}

function renderCuration(st) {
  const locked = Boolean(S.readOnly);
  for (const id of ["delete", "copy"]) $(id).disabled = locked || S.selected.size === 0;
  $("repair").hidden = st.offer !== "repair";
  const job = st.scoring;
  const running = job && !job.finished;
  const unscored = S.episodes.some((e) => e.score === null || e.score === undefined);
  $("score").hidden = !unscored || running || Boolean(st.problem);
  $("score").textContent = `score ${S.episodes.filter((e) => e.score == null).length} episodes offline`;
  $("score-progress").hidden = !running;
  if (running) { $("score-progress").max = job.total || 1; $("score-progress").value = job.done; }
  const offline = S.episodes.some((e) => e.scored_by === "offline (not kept)");
  $("keep-scores").hidden = !(job && job.finished && !job.error && offline);
  $("keep-scores").disabled = locked;
  const command = st.message && st.message.command;
  $("command").hidden = !command;
  if (command) $("command").querySelector("code").textContent = command;
}

// --- cards ------------------------------------------------------------------------------------------

function subscoreBars(subs) {
  const low = S.thresholds.subscore ?? 0.5;
  return Object.entries(subs || {}).sort((a, b) => a[1] - b[1]).map(([k, v]) =>
    `<span class="sub${v < low ? " low" : ""}" title="${esc(k)} ${fmt(v)}"><em>${esc(k)}</em>` +
    `<i style="width:${Math.round(40 * v)}px"></i>${fmt(v)}</span>`).join("");
}

function worstSub(subs) {
  const entries = Object.entries(subs || {});
  if (!entries.length) return "";
  const [k, v] = entries.reduce((a, b) => (b[1] < a[1] ? b : a));
  return ` (worst ${esc(k)} ${fmt(v)})`;
}

function cardHtml(ep) {
  const reasons = (ep.reasons || []).map((r) => `<span>${esc(r)}</span>`).join("");
  const extra = [];
  if (ep.operator) extra.push(`operator ${esc(ep.operator)}`);
  if (ep.defects && ep.defects.length) extra.push(`defects ${esc(ep.defects.join(", "))}`);
  if (ep.intervention !== undefined && ep.intervention !== null) extra.push(`intervention ${esc(ep.intervention)}`);
  if (ep.missing_frames) extra.push(`missing frames ${esc(ep.missing_frames)}`);
  const success = ep.success === null || ep.success === undefined ? "-" : ep.success ? "yes" : "no";
  return `<div class="head"><input type="checkbox" class="pick" aria-label="select episode ${ep.i}">` +
    `<b>episode ${ep.i}</b><span class="verdict">${esc(ep.verdict || "not scored")}</span>` +
    `<button class="open">open</button><span class="score">${fmt(ep.score, 3)}</span></div>` +
    `<div class="strip" data-ready="0"></div>` +
    `<div class="meta">success ${success} · ${ep.length} frames · ${fmt(ep.duration, 1)} s` +
    `${ep.scored_by ? ` · scored by ${esc(ep.scored_by)}` : ""}${extra.length ? " · " + extra.join(" · ") : ""}</div>` +
    `<div class="reasons">${reasons}</div><details class="subs-box"><summary>sub-scores${worstSub(ep.subscores)}` +
    `</summary><div class="subs"></div></details>`;
}

function makeCard(ep) {
  const el = document.createElement("article");
  el.className = `card ${ep.verdict || "unscored"}`;
  el.dataset.episode = ep.i;
  el.innerHTML = cardHtml(ep);
  el.querySelector(".pick").checked = S.selected.has(ep.i);
  if (S.selected.has(ep.i)) el.classList.add("selected");
  el.querySelector(".pick").addEventListener("change", (e) => toggle(ep.i, e.target.checked));
  el.querySelector(".open").addEventListener("click", () => openEpisode(ep.i));
  const box = el.querySelector(".subs-box");  // drawn when opened: most never are
  box.addEventListener("toggle", () => { if (box.open) box.querySelector(".subs").innerHTML = subscoreBars(ep.subscores); });
  observer.observe(el.querySelector(".strip"));
  return el;
}

// Cards are built when first shown and kept while their episode's row stays the same.
function cardEl(ep) {
  const card = S.cards.get(ep.i);
  if (!card.el) card.el = makeCard(ep);
  return card.el;
}

function renderCards() {
  const seen = new Set();
  for (const ep of S.episodes) {
    const key = JSON.stringify(ep);
    seen.add(ep.i);
    const old = S.cards.get(ep.i);
    if (old && old.key === key) { old.ep = ep; continue; }
    if (old && old.el) old.el.remove();
    S.cards.set(ep.i, { key, ep, el: null });
  }
  for (const [i, card] of S.cards) {
    if (!seen.has(i)) { if (card.el) card.el.remove(); S.cards.delete(i); S.selected.delete(i); }
  }
  applyView(false);
}

// Video elements only for cards on screen: a browser runs a limited number of media players.
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const strip = entry.target;
    if (entry.isIntersecting && strip.dataset.ready === "0") later(() => fillStrip(strip));
    else if (!entry.isIntersecting && strip.dataset.ready === "1") { strip.innerHTML = ""; strip.dataset.ready = "0"; }
  }
}, { rootMargin: "300px" });

// Media players start after the cards are drawn: a sort or filter shows its result first.
const later = window.requestIdleCallback ? (f) => requestIdleCallback(f, { timeout: 500 }) : (f) => setTimeout(f, 50);

function fillStrip(strip) {
  if (strip.dataset.ready !== "0" || !strip.isConnected) return;
  const card = S.cards.get(Number(strip.closest(".card").dataset.episode));
  if (!card) return;
  strip.dataset.ready = "1";
  for (const [cam, span] of Object.entries(card.ep.videos || {})) {
    const video = segmentVideo(span, cam);
    video.addEventListener("mouseenter", () => video.play().catch(() => {}));
    video.addEventListener("mouseleave", () => video.pause());
    strip.appendChild(video);
  }
}

// A <video> on the dataset's own file, kept inside the episode's span [from, to) of it.
function segmentVideo(span, cam) {
  const video = document.createElement("video");
  video.muted = true;
  video.preload = "metadata";
  video.dataset.camera = cam;
  video.dataset.from = span.from;
  video.dataset.to = span.to;
  video.title = cam;
  video.src = `/video/${span.file.split("/").map(encodeURIComponent).join("/")}`;
  video.addEventListener("loadedmetadata", () => { video.currentTime = span.from + 0.5 * (span.to - span.from); },
    { once: true });
  video.addEventListener("timeupdate", () => {
    if (video.currentTime >= span.to - 0.5 / S.fps) { video.pause(); video.currentTime = span.from; }
  });
  return video;
}

// --- selection, filter and sort ---------------------------------------------------------------------

function toggle(i, on) {
  if (on) S.selected.add(i); else S.selected.delete(i);
  const card = S.cards.get(i);
  if (card && card.el) { card.el.classList.toggle("selected", on); card.el.querySelector(".pick").checked = on; }
  $("selected").textContent = `${S.selected.size} selected`;
  if (S.state) renderCuration(S.state);
}

function matches(ep, f) {
  if (f.verdict === "none" ? ep.verdict : f.verdict && ep.verdict !== f.verdict) return false;
  if (f.reason && !(ep.reasons || []).includes(f.reason)) return false;
  if (f.success && (ep.success === true) !== (f.success === "yes")) return false;
  if (f.success === "no" && ep.success !== false) return false;
  if (f.min !== null && !(ep.score >= f.min)) return false;
  if (f.max !== null && !(ep.score <= f.max)) return false;
  return true;
}

function sortKey(ep, key) {
  if (key === "verdict") return ep.verdict === "bad" ? 0 : ep.verdict === "good" ? 1 : 2;
  if (key === "success") return ep.success === true ? 1 : ep.success === false ? 0 : 2;
  const v = ep[key];
  return v === null || v === undefined ? Infinity : v;
}

function number(id) { const v = $(id).value; return v === "" ? null : Number(v); }

function shownEpisodes() {
  const f = { verdict: $("filter-verdict").value, reason: $("filter-reason").value,
    success: $("filter-success").value, min: number("filter-min"), max: number("filter-max") };
  const key = $("sort").value;
  const sign = $("desc").checked ? -1 : 1;
  return S.episodes.filter((ep) => matches(ep, f))
    .sort((a, b) => sign * (sortKey(a, key) - sortKey(b, key)) || a.i - b.i);
}

const PAGE = 40;  // cards drawn at a time; more as the list is scrolled to its end
const more = document.createElement("div");
more.id = "more";
const moreObserver = new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting) && S.limit < S.shown.length) {
    const next = S.shown.slice(S.limit, S.limit + PAGE);
    S.limit += next.length;
    more.before(...next.map(cardEl));
    more.textContent = moreText();
    moreObserver.unobserve(more);  // observed again: a fresh callback if it is still in view
    moreObserver.observe(more);
  }
}, { rootMargin: "600px" });
moreObserver.observe(more);
S.shown = [];
S.limit = PAGE;

function moreText() {
  return S.limit < S.shown.length ? `${S.limit} of ${S.shown.length} drawn; scroll for more` : "";
}

function applyView(fromControl = true) {
  const t0 = performance.now();
  const shown = shownEpisodes();
  if (fromControl) S.limit = PAGE;
  S.limit = Math.max(PAGE, Math.min(S.limit, shown.length));
  S.shown = shown;
  more.textContent = moreText();
  $("cards").replaceChildren(...shown.slice(0, S.limit).map(cardEl), more);
  $("count").textContent = `${shown.length} of ${S.episodes.length} episodes shown`;
  $("selected").textContent = `${S.selected.size} selected`;
  window.__review.timings.push(performance.now() - t0);
}

function updateReasonOptions() {
  const select = $("filter-reason");
  const current = select.value;
  const reasons = [...new Set(S.episodes.flatMap((e) => e.reasons || []))].sort();
  select.innerHTML = `<option value="">all</option>` + reasons.map((r) => `<option>${esc(r)}</option>`).join("");
  select.value = reasons.includes(current) ? current : "";
}

// --- summary and histograms -------------------------------------------------------------------------

function renderSummary() {
  const eps = S.episodes;
  const good = eps.filter((e) => e.verdict === "good").length;
  const bad = eps.filter((e) => e.verdict === "bad").length;
  const known = eps.filter((e) => e.success === true || e.success === false);
  const rate = known.length ? `${Math.round(100 * known.filter((e) => e.success).length / known.length)} %` : "-";
  const counts = {};
  for (const e of eps) for (const r of e.reasons || []) counts[r] = (counts[r] || 0) + 1;
  const reasons = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([r, n]) => `${esc(r)} ${n}`).join(", ");
  $("summary").innerHTML = `<b>${eps.length}</b> episodes · <b>${good}</b> good · <b>${bad}</b> bad · ` +
    `${eps.length - good - bad} not scored · success rate ${rate} · reasons: ${reasons || "none"}`;
}

function histogram(title, values, threshold) {
  const bins = new Array(10).fill(0);
  for (const v of values) bins[Math.min(9, Math.max(0, Math.floor(v * 10)))] += 1;
  const top = Math.max(1, ...bins);
  const w = 150, h = 50;
  const bars = bins.map((n, k) => `<rect x="${k * 15 + 1}" y="${h - (h * n) / top}" width="13" ` +
    `height="${(h * n) / top}" fill="#2563eb"><title>${(k / 10).toFixed(1)}-${((k + 1) / 10).toFixed(1)}: ${n}</title></rect>`);
  const mark = threshold === undefined ? "" :
    `<line x1="${threshold * w}" x2="${threshold * w}" y1="0" y2="${h}" stroke="#c0392b" stroke-width="2"/>`;
  return `<div class="hist" data-metric="${esc(title)}"><div class="title">${esc(title)} (${values.length})</div>` +
    `<svg width="${w}" height="${h}">${bars.join("")}${mark}</svg></div>`;
}

function renderHistograms() {
  const eps = S.episodes.filter((e) => e.score !== null && e.score !== undefined);
  const keys = [...new Set(eps.flatMap((e) => Object.keys(e.subscores || {})))].sort();
  const parts = [histogram("score", eps.map((e) => e.score), S.thresholds.score)];
  for (const k of keys) {
    const values = eps.map((e) => (e.subscores || {})[k]).filter((v) => v !== undefined);
    parts.push(histogram(k, values, S.thresholds.subscore));
  }
  $("histograms").innerHTML = parts.join("");
}

// --- episode view -----------------------------------------------------------------------------------

async function openEpisode(i) {
  const response = await fetch(`/api/episode/${i}`);
  const data = await response.json();
  $("episode").hidden = false;
  $("episode-title").textContent = `episode ${i}`;
  if (data.ok === false) { $("episode-info").textContent = data.text; $("episode-cameras").innerHTML = ""; return; }
  S.episode = data;
  const ep = data.episode;
  const cams = $("episode-cameras");
  cams.innerHTML = "";
  for (const [cam, span] of Object.entries(ep.videos || {})) {
    const fig = document.createElement("figure");
    const video = segmentVideo(span, cam);
    video.preload = "auto";
    video.addEventListener("loadedmetadata", () => { video.currentTime = span.from; }, { once: true });
    video.addEventListener("timeupdate", () => syncCursor(video));
    fig.appendChild(video);
    fig.insertAdjacentHTML("beforeend", `<figcaption>${esc(cam)}</figcaption>`);
    cams.appendChild(fig);
  }
  if (!Object.keys(ep.videos || {}).length) cams.textContent = "no videos in this dataset";
  const st = data.stretch || {};
  const where = st.from !== undefined ?
    `${esc(st.family)}: ${esc(st.how)}, ${fmt(st.from / data.fps, 1)}-${fmt(st.to / data.fps, 1)} s ` +
    `(located from the traces: the scorer reports per-episode values)` : esc(st.why || "");
  $("episode-info").innerHTML = `score ${fmt(ep.score, 3)} · ${esc(ep.verdict || "not scored")} · reasons ` +
    `${esc((ep.reasons || []).join(", ") || "none")} · worst stretch: ${where}`;
  $("episode-traces").innerHTML = trace("action", data, 130) + trace("state", data, 200);
  for (const svg of $("episode-traces").querySelectorAll("svg")) svg.addEventListener("click", seekFromTrace);
}

function trace(which, data, h) {
  const w = 900;
  const t = data.t;
  const tmax = Math.max(t[t.length - 1] || 0, 1e-6);
  const rows = data[which].values;
  const names = data[which].names;
  const dims = rows.length ? rows[0].length : 0;
  const x = (s) => (s / tmax) * w;
  const lines = [];
  for (let d = 0; d < dims; d++) {
    const col = rows.map((r) => r[d]);
    const lo = Math.min(...col), hi = Math.max(...col), span = hi - lo || 1;
    const pts = col.map((v, k) => `${x(t[k]).toFixed(1)},${(h - 4 - ((v - lo) / span) * (h - 8)).toFixed(1)}`);
    lines.push(`<polyline fill="none" stroke="${COLORS[d % COLORS.length]}" stroke-width="1.2" points="${pts.join(" ")}">` +
      `<title>${esc(names[d] || `${which}[${d}]`)}: ${fmt(lo, 3)}..${fmt(hi, 3)}</title></polyline>`);
  }
  const marks = [];
  const st = data.stretch || {};
  if (st.from !== undefined) {
    marks.push(`<rect class="stretch" x="${x(st.from / data.fps)}" width="${Math.max(2, x((st.to - st.from) / data.fps))}" ` +
      `y="0" height="${h}" fill="#c0392b22"><title>worst stretch: ${esc(st.family)}</title></rect>`);
  }
  for (const d of data.episode.defect_spans || []) {
    const from = (d.start || 0) / data.fps;
    const to = d.duration ? from + d.duration / data.fps : tmax;
    marks.push(`<rect x="${x(from)}" width="${Math.max(2, x(to - from))}" y="0" height="${h}" fill="#b7791f22">` +
      `<title>injected ${esc(d.family)}</title></rect>`);
  }
  const legend = names.map((n, d) => `<span style="color:${COLORS[d % COLORS.length]}">${esc(n)}</span>`).join(" ");
  return `<div class="trace"><div class="title">${which} (each line scaled to its own range) ${legend}</div>` +
    `<svg width="${w}" height="${h}" data-trace="${which}" data-tmax="${tmax}">${marks.join("")}${lines.join("")}` +
    `<line class="cursor" x1="0" x2="0" y1="0" y2="${h}" stroke="#111" stroke-width="1"/></svg></div>`;
}

function episodeVideos() { return [...$("episode-cameras").querySelectorAll("video")]; }

function syncCursor(video) {
  const t = video.currentTime - Number(video.dataset.from);
  $("episode-time").textContent = `${t.toFixed(2)} s`;
  for (const svg of $("episode-traces").querySelectorAll("svg")) {
    const xpos = (t / Number(svg.dataset.tmax)) * Number(svg.getAttribute("width"));
    const line = svg.querySelector(".cursor");
    line.setAttribute("x1", xpos); line.setAttribute("x2", xpos);
  }
}

function seekAll(t) {
  for (const v of episodeVideos()) v.currentTime = Number(v.dataset.from) + t;
}

function seekFromTrace(event) {
  const svg = event.currentTarget;
  const rect = svg.getBoundingClientRect();
  seekAll(((event.clientX - rect.left) / rect.width) * Number(svg.dataset.tmax));
}

function playEpisode() {
  const videos = episodeVideos();
  if (!videos.length) return;
  const t = Math.max(0, videos[0].currentTime - Number(videos[0].dataset.from));
  seekAll(t >= Number(videos[0].dataset.to) - Number(videos[0].dataset.from) - 0.1 ? 0 : t);
  for (const v of videos) v.play().catch(() => {});
}

// --- curation ---------------------------------------------------------------------------------------

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}) });
  const result = await response.json();
  if (S.state) { S.state.message = result; renderBanner(S.state); renderCuration(S.state); }
  S.version = null;  // read everything again
  return result;
}

async function deleteSelected() {
  const indices = [...S.selected].sort((a, b) => a - b);
  if (!indices.length || !confirm(`Delete ${indices.length} episodes (${indices.join(", ")}) in place? ` +
    "The original is kept as a backup beside the dataset.")) return;
  $("delete").disabled = true;
  const result = await post("/api/delete", { indices });
  if (result.ok) { for (const i of indices) S.selected.delete(i); }
}

async function copyWithout() {
  const indices = [...S.selected].sort((a, b) => a - b);
  await post("/api/copy", { indices, out: $("copy-out").value });
}

function wire() {
  for (const id of ["sort", "desc", "filter-verdict", "filter-reason", "filter-success", "filter-min", "filter-max"]) {
    $(id).addEventListener("input", () => applyView());
  }
  $("select-shown").addEventListener("click", () => { for (const ep of shownEpisodes()) toggle(ep.i, true); });
  $("select-none").addEventListener("click", () => { for (const i of [...S.selected]) toggle(i, false); });
  $("delete").addEventListener("click", deleteSelected);
  $("copy").addEventListener("click", copyWithout);
  $("repair").addEventListener("click", () => post("/api/repair"));
  $("score").addEventListener("click", () => post("/api/score"));
  $("keep-scores").addEventListener("click", () => post("/api/score/keep"));
  $("close-episode").addEventListener("click", () => {
    for (const v of episodeVideos()) v.pause();
    $("episode").hidden = true;
  });
  $("play-episode").addEventListener("click", playEpisode);
}

wire();
poll();
