// The web app's page: the upload of a video in resumable pieces, its check result, the progress
// timeline, the clips and covers to pick from and the cut-out's editor, the review of a trained
// avatar and talking to a live one. Signed in by Telegram's initData when opened as a Mini App
// (from Telegram's script when a page loaded it, else from the launch parameters Telegram puts
// after '#'), otherwise by the session cookie a login link set. Videos and pictures are fetched
// like any API call and played from blob URLs: a <video src> request carries no Authorization
// header, and a Mini App has no cookie.
"use strict";

const launch = new URLSearchParams(location.hash.slice(1));
const initData = (window.Telegram && window.Telegram.WebApp && window.Telegram.WebApp.initData) || launch.get("tgWebAppData") || "";
const $ = (id) => document.getElementById(id);
// The page's words in the person's language, from the catalogue (the server puts them in the page)
const WORDS = JSON.parse($("words").textContent);
const t = (key, values = {}) => WORDS[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
const POLL_MS = 3000;
const RETRY_MS = [1000, 2000, 4000, 8000, 15000];
let me = null;
let progressTimer = null;

async function api(method, path, body, headers = {}) {
  const sent = { ...headers };
  if (initData) sent.Authorization = "tma " + initData;
  if (body !== undefined && !(body instanceof Blob)) {
    sent["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers: sent, body, credentials: "same-origin" });
  const data = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, data };
}

function problem(data) {
  const box = $("problem");
  if (!data) { box.hidden = true; return; }
  box.textContent = [data.message, data.advice].filter(Boolean).map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join(t("page_sentence_join")) + t("page_sentence_end");
  box.hidden = false;
}

function sizeWords(bytes) {
  return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
}

function timeWords(seconds) {
  if (!isFinite(seconds)) return "";
  if (seconds < 60) return t("page_seconds_left", { count: Math.max(1, Math.round(seconds)) });
  return t("page_minutes_left", { count: Math.round(seconds / 60) });
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

const blobUrls = new Map();  // element id -> its blob URL, let go when the element gets another

async function loadMedia(element, path) {
  const sent = initData ? { Authorization: "tma " + initData } : {};
  const response = await fetch(path, { headers: sent, credentials: "same-origin" });
  if (!response.ok) throw await response.json().catch(() => ({ message: t("page_media_failed"), advice: t("page_try_again") }));
  const url = URL.createObjectURL(await response.blob());
  if (blobUrls.has(element.id)) URL.revokeObjectURL(blobUrls.get(element.id));
  blobUrls.set(element.id, url);
  element.src = url;
  return url;
}

function avatarPath(tail) {
  return "/api/avatars/" + encodeURIComponent(me.avatar.id) + tail;
}

function withCapital(s) {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

// ---- views

const VIEWS = ["upload", "progress", "materials", "review", "talk"];
const LOADERS = { materials: loadMaterials, review: loadReview, talk: loadTalk };

function show(view) {
  for (const name of VIEWS) {
    $("view-" + name).hidden = name !== view;
    $("tab-" + name).classList.toggle("active", name === view);
  }
  clearTimeout(progressTimer);
  clearTimeout(cutoutTimer);
  if (me) problem(null);  // a sign-in refusal stays in sight on every view
  if (view === "progress") pollProgress();
  if (LOADERS[view]) LOADERS[view]().catch(problem);
}

// An avatar's page needs the avatar: without one it says how to start one
function needsAvatar(element) {
  if (me && me.avatar) return true;
  $(element).textContent = me ? t("page_no_avatar") : "";
  return false;
}

// ---- upload

async function loadMe() {
  const answer = await api("GET", "/api/me");
  if (!answer.ok) { problem(answer.data); $("picker").hidden = true; return false; }
  me = answer.data;
  if (me.language !== document.documentElement.lang) {  // the person chose another language than the page was made in
    const address = new URL(location.href);
    address.searchParams.set("lang", me.language);
    location.replace(address.toString());
    return false;
  }
  $("limit").textContent = t("page_limit", { limit: me.limit_words });
  $("consent").hidden = me.agreed;
  if (!me.agreed) $("privacy").textContent = me.privacy;
  if (me.avatar && me.avatar.in_production) {
    $("choice-title").textContent = t("page_choice_title", { name: me.avatar.name });
    $("choice-again").textContent = t("page_choice_again", { name: me.avatar.name });
    $("choice").hidden = false;
  }
  updateSend();
  return true;
}

function updateSend() {
  $("send").disabled = !(me && me.agreed && $("file").files.length);
}

function target() {
  if ($("choice").hidden) return "current";
  return document.querySelector("input[name=target]:checked").value;
}

function fileKey(file) {
  return "twinforge-upload:" + [file.name, file.size, file.lastModified].join(":");
}

async function startOrResume(file) {
  const known = localStorage.getItem(fileKey(file));
  if (known) {
    const found = await api("GET", "/api/uploads/" + known);
    if (found.ok && found.data.status !== "failed") return found.data;
  }
  const made = await api("POST", "/api/uploads", { name: file.name, size: file.size, target: target() });
  if (!made.ok) throw made.data;
  localStorage.setItem(fileKey(file), made.data.id);
  return made.data;
}

async function send() {
  const file = $("file").files[0];
  problem(null);
  $("send").disabled = true;
  $("result").hidden = true;
  try {
    let upload = await startOrResume(file);
    $("transfer").hidden = false;
    if (upload.status === "receiving") upload = await sendPieces(file, upload);
    await waitForCheck(file, upload);
  } catch (refusal) {
    problem(refusal && refusal.message ? refusal : { message: t("page_upload_stopped"), advice: t("page_upload_stopped_advice") });
    $("send").disabled = false;
  }
}

async function sendPieces(file, upload) {
  const piece = me.chunk_bytes;
  let offset = upload.offset;
  const startedAt = performance.now();
  const startedOffset = offset;
  let failures = 0;
  showTransfer(offset, file.size, startedAt, startedOffset);
  while (offset < file.size) {
    const end = Math.min(offset + piece, file.size);
    let answer;
    try {
      answer = await api("PUT", "/api/uploads/" + upload.id, file.slice(offset, end), {
        "Content-Range": "bytes " + offset + "-" + (end - 1) + "/" + file.size,
        "Content-Type": "application/octet-stream",
      });
    } catch (lost) {  // the connection dropped: ask where the server got to, then go on from there
      if (failures >= RETRY_MS.length) throw { message: t("page_connection_drops"), advice: t("page_connection_drops_advice") };
      $("upload-status").textContent = t("page_connection_lost");
      await sleep(RETRY_MS[failures++]);
      const status = await api("GET", "/api/uploads/" + upload.id).catch(() => null);
      if (status && status.ok) offset = status.data.offset;
      continue;
    }
    if (answer.ok) {
      upload = answer.data;
      offset = upload.offset;
      failures = 0;
      $("upload-status").textContent = "";
    } else if (answer.status === 409 && answer.data.offset !== undefined) {
      offset = answer.data.offset;  // the server has more (or less) than we thought: go on from its offset
      if (answer.data.error === "complete") break;
    } else {
      throw answer.data;
    }
    showTransfer(offset, file.size, startedAt, startedOffset);
  }
  return upload;
}

function showTransfer(offset, size, startedAt, startedOffset) {
  const seconds = (performance.now() - startedAt) / 1000;
  const speed = seconds > 0.2 ? (offset - startedOffset) / seconds : 0;
  $("bar-fill").style.width = (100 * offset / size).toFixed(1) + "%";
  const parts = [t("page_sent_of", { done: sizeWords(offset), size: sizeWords(size), percent: Math.floor(100 * offset / size) })];
  if (speed > 0 && offset < size) parts.push(sizeWords(speed) + "/s", timeWords((size - offset) / speed));
  $("transfer-words").textContent = parts.join(" · ");
}

async function waitForCheck(file, upload) {
  showTransfer(upload.size, upload.size, performance.now(), upload.size);
  for (;;) {
    const answer = await api("GET", "/api/uploads/" + upload.id);
    if (!answer.ok) throw answer.data;
    upload = answer.data;
    if (upload.status === "failed") {
      localStorage.removeItem(fileKey(file));
      throw { message: upload.words, advice: "" };
    }
    if (upload.status === "storing") $("upload-status").textContent = upload.words;
    if (upload.status === "submitted") {
      localStorage.removeItem(fileKey(file));
      const intake = upload.intake;
      $("upload-status").textContent = intake.done ? "" : t("page_checking", { version: upload.version, state: intake.state });
      if (intake.done) { showResult(intake); return; }
    }
    await sleep(2000);
  }
}

function showResult(intake) {
  $("result-title").textContent = intake.title;
  const list = $("result-items");
  list.replaceChildren();
  const marks = { pass: "✓", warning: "!", fail: "✕" };  // plain characters in coloured badges: every font has them, not every device has colour emoji
  for (const item of intake.items) {
    const row = document.createElement("li");
    row.className = item.status;
    const mark = document.createElement("span");
    mark.className = "mark";
    mark.textContent = marks[item.status] || "•";
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = t("page_name_value_join") + item.value;
    row.append(mark, item.name, value);
    if (item.advice) {
      const advice = document.createElement("span");
      advice.className = "advice";
      advice.textContent = item.advice;
      row.append(advice);
    }
    list.append(row);
  }
  $("result-next").textContent = intake.next;
  $("result").hidden = false;
  $("result").scrollIntoView({ block: "start" });
}

// ---- progress

const ICONS = { succeeded: "✓", running: "●", queued: "…", waiting_for_user: "?", failed: "!", cancelled: "×", pending: "○" };

async function pollProgress() {
  const answer = await api("GET", "/api/progress").catch(() => null);
  if (answer && answer.ok) {
    problem(null);
    renderProgress(answer.data);
  } else if (answer) {
    problem(answer.data);
  }
  progressTimer = setTimeout(pollProgress, POLL_MS);
}

function renderProgress(data) {
  $("close-line").textContent = data.close;
  const steps = $("steps");
  steps.replaceChildren();
  if (!data.avatar) {
    $("avatar-name").textContent = t("page_your_avatar");
    $("step-summary").textContent = data.empty;
    return;
  }
  $("avatar-name").textContent = data.avatar.name;
  $("step-summary").textContent = data.avatar.summary;
  const news = [data.avatar.queue, data.avatar.eta].filter(Boolean).join(" ");
  $("step-news").textContent = news;
  $("step-news").hidden = !news;
  for (const step of data.avatar.steps) {
    const row = document.createElement("li");
    row.className = step.state;
    const icon = document.createElement("span");
    icon.className = "icon";
    icon.textContent = ICONS[step.state] || "○";
    const text = document.createElement("span");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = step.name;
    text.append(name);
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = step.words + (step.state === "running" ? " · " + Math.round(step.progress * 100) + "%" : "");
    text.append(state);
    if (step.state === "running") {
      const bar = document.createElement("div");
      bar.className = "bar";
      const fill = document.createElement("div");
      fill.style.width = Math.round(step.progress * 100) + "%";
      bar.append(fill);
      text.append(bar);
    }
    row.append(icon, text);
    steps.append(row);
  }
}

// ---- materials: the proposed clips and covers, each playing its preview, and the choice

async function loadMaterials() {
  $("gallery").replaceChildren();
  $("cutout").hidden = true;
  if (!needsAvatar("materials-intro")) return;
  await Promise.all([loadGallery(), loadCutout()]);
}

async function loadGallery() {
  const answer = await api("GET", avatarPath("/materials"));
  if (!answer.ok) throw answer.data;
  $("materials-intro").textContent = answer.data.intro;
  for (const item of answer.data.items) $("gallery").append(candidateCard(item));
}

function candidateCard(item) {
  const card = document.createElement("div");
  card.className = "card" + (item.chosen ? " chosen" : "");
  card.dataset.kind = item.kind;
  const picture = document.createElement(item.kind === "driving" ? "video" : "img");
  picture.id = "preview-" + item.kind + "-" + item.id;
  if (item.kind === "driving") Object.assign(picture, { muted: true, loop: true, autoplay: true, playsInline: true });
  else picture.alt = item.title;
  loadMedia(picture, item.preview).catch(problem);
  const title = document.createElement("span");
  title.className = "title";
  title.textContent = item.title;
  const reason = document.createElement("span");
  reason.className = "reason";
  reason.textContent = item.reason;
  const use = document.createElement("button");
  use.type = "button";
  use.className = "primary";
  use.textContent = item.button;
  use.addEventListener("click", () => choose(item, use));
  card.append(picture, title, reason, use);
  return card;
}

async function choose(item, button) {
  button.disabled = true;
  const answer = await api("POST", avatarPath("/materials/choose"), { kind: item.kind, id: item.id });
  button.disabled = false;
  if (!answer.ok) { problem(answer.data); return; }
  notice("materials-notice", answer.data.words);
}

function notice(element, words) {
  $(element).textContent = words;
  $(element).hidden = !words;
  if (words) $(element).scrollIntoView({ block: "center" });
}

// ---- the cut-out editor: tap or brush on the cover picture to keep or remove, tap a colour to key
// it out, the spill removal and the background; every edit is a new version the platform makes
// (the page shows its progress until it is there), and undo, redo or any listed version is going
// back to one, itself a new version. Points go to the API normalised to the picture (0..1).

const BRUSH = 0.05;  // the brush's width, a share of the picture's width
const TAP_MOST = 0.02;  // a touch that moved less than this (a share of the width) is a tap
const STROKE_STEP = 0.004;  // a stroke keeps a point once the finger moved this far from the last one
const STROKE_MOST = 2000;
const CUTOUT_POLL_MS = 1500;
const TOOL_COLOURS = { keep: "rgba(46, 155, 95, 0.6)", remove: "rgba(214, 69, 69, 0.6)", key: "rgba(47, 128, 237, 0.8)" };
let cutout = null;  // the editor as the API last described it
let tool = "keep";
let cutoutTimer = null;
let stroke = null;  // the brush stroke being drawn: its points, normalised

async function loadCutout() {
  clearTimeout(cutoutTimer);
  const answer = await api("GET", avatarPath("/cutout"));
  if (!answer.ok) throw answer.data;
  const data = answer.data;
  $("cutout").hidden = false;
  $("cutout-intro").textContent = data.intro;
  $("cutout-editor").hidden = !data.ready;
  cutout = data.ready ? data : null;
  if (!data.ready) return;
  const pictures = [["cutout-after", data.after], ["cutout-before", data.before]].filter(([id, path]) => $(id).dataset.path !== path);
  await Promise.all(pictures.map(async ([id, path]) => {
    await loadMedia($(id), path);
    $(id).dataset.path = path;
  }));
  if (pictures.length) clearStrokes();
  renderCutout(data);
  if (data.busy) cutoutTimer = setTimeout(() => loadCutout().catch(problem), CUTOUT_POLL_MS);
}

function renderCutout(data) {
  showBusy(data.busy);
  $("cutout-hint").textContent = t("page_cutout_hint_" + tool);
  $("cutout-despill").value = Math.round(data.despill * 100);
  $("cutout-despill-value").textContent = t("page_cutout_percent", { percent: $("cutout-despill").value });
  if (data.colour) $("cutout-colour").value = data.colour;
  $("cutout-failed").textContent = data.failed;
  $("cutout-failed").hidden = !data.failed;
  $("cutout-versions").replaceChildren(...data.versions.map((version) => {
    const row = document.createElement("li");
    row.dataset.version = version.version;
    row.className = version.current ? "current" : "";
    const words = document.createElement("span");
    words.textContent = version.words;
    row.append(words);
    if (version.current) {
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = t("page_cutout_shown");
      row.append(mark);
    } else if (!version.same) {
      const back = document.createElement("button");
      back.type = "button";
      back.className = "link-button";
      back.textContent = t("page_cutout_go_back");
      back.addEventListener("click", () => cutoutEdit("/cutout/revert", { version: version.version }));
      row.append(back);
    }
    return row;
  }));
  enableCutout();
}

function showBusy(words) {
  $("cutout-busy-words").textContent = words || "";
  $("cutout-busy").hidden = !words;
  if (cutout) cutout.busy = words || "";
  enableCutout();
}

// While an edit is being made nothing else can start: the platform makes one version at a time
function enableCutout() {
  const busy = !cutout || !!cutout.busy;
  for (const id of ["cutout-despill", "cutout-colour", "cutout-picture", "cutout-recorded"]) $(id).disabled = busy;
  for (const button of document.querySelectorAll("#cutout-versions button")) button.disabled = busy;
  $("cutout-undo").disabled = busy || cutout.undo === null;
  $("cutout-redo").disabled = busy || cutout.redo === null;
}

function pickTool(name) {
  tool = name;
  for (const button of document.querySelectorAll(".tool")) {
    button.classList.toggle("active", button.dataset.tool === name);
    button.setAttribute("aria-pressed", String(button.dataset.tool === name));
  }
  $("cutout-hint").textContent = t("page_cutout_hint_" + name);
}

async function cutoutEdit(path, body, headers) {
  if (!cutout || cutout.busy) return;
  problem(null);
  $("cutout-failed").hidden = true;
  showBusy(t(body instanceof Blob ? "page_cutout_sending" : "page_cutout_asking"));
  let answer;
  try {
    answer = await api("POST", avatarPath(path), body, headers);
  } catch (lost) {
    answer = { ok: false, data: { message: t("page_media_failed"), advice: t("page_try_again") } };
  }
  if (!answer.ok) {
    showBusy("");
    clearStrokes();
    problem(answer.data);
    return;
  }
  showBusy(answer.data.words);
  cutoutTimer = setTimeout(() => loadCutout().catch(problem), CUTOUT_POLL_MS);
}

function relative(event) {
  const box = $("cutout-strokes").getBoundingClientRect();
  const clamp = (v) => Math.min(1, Math.max(0, v));
  return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
}

function clearStrokes() {
  const canvas = $("cutout-strokes");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

// The trail of the brush (or the tapped spot), drawn in the tool's colour until the new version shows
function drawStroke(points) {
  const canvas = $("cutout-strokes");
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.strokeStyle = context.fillStyle = TOOL_COLOURS[tool];
  context.lineWidth = tool === "key" ? canvas.width * 0.01 : BRUSH * canvas.width;
  context.lineCap = context.lineJoin = "round";
  context.beginPath();
  points.forEach(([x, y], index) => (index ? context.lineTo : context.moveTo).call(context, x * canvas.width, y * canvas.height));
  if (points.length === 1) {
    context.arc(points[0][0] * canvas.width, points[0][1] * canvas.height, context.lineWidth / 2, 0, 2 * Math.PI);
    context.fill();
  } else {
    context.stroke();
  }
}

function strokeStart(event) {
  if (!cutout || cutout.busy || event.button > 0) return;
  event.preventDefault();
  const canvas = $("cutout-strokes");
  const box = canvas.getBoundingClientRect();
  canvas.width = Math.round(box.width * devicePixelRatio);
  canvas.height = Math.round(box.height * devicePixelRatio);
  canvas.setPointerCapture(event.pointerId);
  stroke = [relative(event)];
  drawStroke(stroke);
}

function strokeMove(event) {
  if (!stroke || tool === "key") return;
  const box = $("cutout-strokes").getBoundingClientRect();
  const [x, y] = relative(event);
  const [lastX, lastY] = stroke[stroke.length - 1];
  if (Math.hypot(x - lastX, (y - lastY) * box.height / box.width) < STROKE_STEP || stroke.length >= STROKE_MOST) return;
  stroke.push([x, y]);
  drawStroke(stroke);
}

function strokeEnd(event) {
  if (!stroke) return;
  const points = stroke;
  stroke = null;
  const box = $("cutout-strokes").getBoundingClientRect();
  let length = 0;
  for (let i = 1; i < points.length; i++) length += Math.hypot(points[i][0] - points[i - 1][0], (points[i][1] - points[i - 1][1]) * box.height / box.width);
  if (event.type === "pointercancel") { clearStrokes(); return; }
  if (tool === "key" || length < TAP_MOST) cutoutEdit("/cutout/edit", { tool, point: points[0] });
  else cutoutEdit("/cutout/edit", { tool, stroke: points, brush: BRUSH });
}

function compare() {
  const share = Number($("cutout-compare").value);
  $("cutout-after").style.clipPath = "inset(0 0 0 " + share + "%)";
  $("cutout-divider").style.left = share + "%";
  $("cutout-divider").hidden = share === 0 || share === 100;
}

function cutoutControls() {
  for (const button of document.querySelectorAll(".tool")) button.addEventListener("click", () => pickTool(button.dataset.tool));
  const canvas = $("cutout-strokes");
  canvas.addEventListener("pointerdown", strokeStart);
  canvas.addEventListener("pointermove", strokeMove);
  canvas.addEventListener("pointerup", strokeEnd);
  canvas.addEventListener("pointercancel", strokeEnd);
  $("cutout-compare").addEventListener("input", compare);
  $("cutout-despill").addEventListener("input", () => {
    $("cutout-despill-value").textContent = t("page_cutout_percent", { percent: $("cutout-despill").value });
  });
  $("cutout-despill").addEventListener("change", () => cutoutEdit("/cutout/edit", { tool: "despill", strength: Number($("cutout-despill").value) / 100 }));
  $("cutout-colour").addEventListener("change", () => cutoutEdit("/cutout/edit", { tool: "colour", colour: $("cutout-colour").value }));
  $("cutout-recorded").addEventListener("click", () => cutoutEdit("/cutout/edit", { tool: "recorded" }));
  $("cutout-picture").addEventListener("change", () => {
    const file = $("cutout-picture").files[0];
    $("cutout-picture").value = "";
    if (file) cutoutEdit("/cutout/background", file, { "Content-Type": file.type || "application/octet-stream" });
  });
  $("cutout-undo").addEventListener("click", () => cutoutEdit("/cutout/revert", { version: cutout.undo }));
  $("cutout-redo").addEventListener("click", () => cutoutEdit("/cutout/revert", { version: cutout.redo }));
  pickTool(tool);
}

// ---- review: the render beside the real recording, the measures, the verdict, going live

let review = null;
// the verdict's items (plugins/evaluation/words.py) as the check's: plain characters in coloured badges
const VERDICT_MARKS = { pass: "✓", fail: "✕", unchecked: "!", skipped: "–" };
const VERDICT_CLASSES = { pass: "pass", fail: "fail", unchecked: "warning", skipped: "skipped" };

async function loadReview() {
  $("review-result").hidden = true;
  if (!needsAvatar("review-headline")) return;
  const answer = await api("GET", avatarPath("/review"));
  if (!answer.ok) throw answer.data;
  review = answer.data;
  $("review-name").textContent = review.name;
  $("review-headline").textContent = review.headline;
  const media = review.media || {};
  $("review-pair").hidden = !(media.render || media.recording);
  for (const part of ["render", "recording", "voice"]) {
    $("review-" + part + "-box").hidden = !media[part];
    $("review-" + part + "-label").textContent = review.labels[part];
    if (media[part]) loadMedia($("review-" + part), media[part]).catch(problem);
  }
  $("review-verdict").textContent = review.verdict.headline;
  $("review-verdict").hidden = !review.verdict.headline;
  $("review-words").replaceChildren(...review.verdict.items.map((item) => {
    const row = document.createElement("li");
    row.className = VERDICT_CLASSES[item.status] || "skipped";  // an older round's English sentences: a neutral mark
    const mark = document.createElement("span");
    mark.className = "mark";
    mark.textContent = VERDICT_MARKS[item.status] || "•";
    row.append(mark, withCapital(item.text));
    return row;
  }));
  $("review-details").hidden = !review.verdict.items.length;
  $("review-actions").hidden = !(review.can_approve || review.can_reject);
  $("approve").hidden = !review.can_approve;
  $("reject").hidden = !review.can_reject;
  $("reject-box").hidden = true;
  $("reject-ask").textContent = review.reject_ask;
  $("other-ask").textContent = review.other_ask;
  $("reasons").replaceChildren(...review.reasons.map((item) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = item.label;
    button.dataset.reason = item.reason;
    button.addEventListener("click", () => pickReason(item.reason));
    return button;
  }));
  showDeploy(review.can_deploy, review.deploy_words);
}

function showDeploy(possible, words) {
  $("deploy-words").textContent = words;
  $("deploy").hidden = !possible;
}

async function verdict(path, body) {
  problem(null);
  for (const button of document.querySelectorAll("#view-review button")) button.disabled = true;
  try {
    const answer = await api("POST", avatarPath(path), body);
    if (!answer.ok) { problem(answer.data); return null; }
    return answer.data;
  } finally {
    for (const button of document.querySelectorAll("#view-review button")) button.disabled = false;
  }
}

async function approve() {
  const done = await verdict("/approve");
  if (!done) return;
  $("review-actions").hidden = true;
  $("reject-box").hidden = true;
  notice("review-result", done.words);
  showDeploy(done.can_deploy, done.deploy_words);
}

function pickReason(reason) {
  if (reason === "other") {
    $("other-box").hidden = false;
    $("other-text").focus();
    return;
  }
  reject(reason, "");
}

async function reject(reason, text) {
  const done = await verdict("/reject", { reason, text });
  if (!done) return;
  if (done.next === "materials") {  // a wrong clip: the picker is the way on
    show("materials");
    notice("materials-notice", done.words);
    return;
  }
  $("review-actions").hidden = true;
  $("reject-box").hidden = true;
  notice("review-result", done.words);
}

async function deploy() {
  const done = await verdict("/deploy");
  if (!done) return;
  $("deploy").hidden = true;
  notice("review-result", done.words);
}

// ---- talk: typed text comes back as a video of the avatar saying it

async function loadTalk() {
  $("talk-form").hidden = true;
  if (!needsAvatar("talk-words")) return;
  const answer = await api("GET", avatarPath("/talk"));
  if (!answer.ok) throw answer.data;
  $("talk-name").textContent = answer.data.name;
  $("talk-words").textContent = answer.data.words;
  $("talk-words").hidden = !answer.data.words;
  $("talk-voice").textContent = answer.data.voice;
  $("talk-text").maxLength = answer.data.most;
  $("talk-form").hidden = !answer.data.live;
}

async function speak() {
  problem(null);
  $("talk-send").disabled = true;
  $("talk-status").textContent = t("page_talk_speaking");
  try {
    const answer = await api("POST", avatarPath("/talk"), { text: $("talk-text").value });
    if (!answer.ok) { problem(answer.data); return; }
    const url = await loadMedia($("talk-video"), answer.data.video);
    $("talk-download").href = url;
    $("talk-caption").textContent = answer.data.caption;
    $("talk-result").hidden = false;
    $("talk-result").scrollIntoView({ block: "start" });
  } catch (refusal) {
    problem(refusal && refusal.message ? refusal : { message: t("page_talk_no_video"), advice: t("page_talk_no_video_advice") });
  } finally {
    $("talk-status").textContent = "";
    $("talk-send").disabled = false;
  }
}

// ---- start

async function agree() {
  const answer = await api("POST", "/api/consent");
  if (!answer.ok) { problem(answer.data); return; }
  me.agreed = true;
  $("consent").hidden = true;
  updateSend();
}

document.addEventListener("DOMContentLoaded", async () => {
  if (window.Telegram && window.Telegram.WebApp && window.Telegram.WebApp.ready) window.Telegram.WebApp.ready();
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => show(tab.dataset.view));
  $("file").addEventListener("change", () => {
    const file = $("file").files[0];
    $("file-label").textContent = file ? file.name + " (" + sizeWords(file.size) + ")" : t("page_choose_file");
    updateSend();
  });
  $("send").addEventListener("click", send);
  $("agree").addEventListener("click", agree);
  $("approve").addEventListener("click", approve);
  $("reject").addEventListener("click", () => { $("reject-box").hidden = false; $("reject-box").scrollIntoView({ block: "start" }); });
  $("send-other").addEventListener("click", () => reject("other", $("other-text").value));
  $("deploy").addEventListener("click", deploy);
  $("talk-send").addEventListener("click", speak);
  cutoutControls();
  const asked = new URLSearchParams(location.search).get("view");
  await loadMe();
  show(VIEWS.includes(asked) ? asked : "upload");
});
