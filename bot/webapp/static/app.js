// The web app's page: the upload of a video in resumable pieces, its check result, and the progress
// timeline. Signed in by Telegram's initData when opened as a Mini App (from Telegram's script when a
// page loaded it, else from the launch parameters Telegram puts after '#'), otherwise by the session
// cookie a login link set.
"use strict";

const launch = new URLSearchParams(location.hash.slice(1));
const initData = (window.Telegram && window.Telegram.WebApp && window.Telegram.WebApp.initData) || launch.get("tgWebAppData") || "";
const $ = (id) => document.getElementById(id);
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
  box.textContent = [data.message, data.advice].filter(Boolean).map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join(". ") + ".";
  box.hidden = false;
}

function sizeWords(bytes) {
  return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
}

function timeWords(seconds) {
  if (!isFinite(seconds)) return "";
  if (seconds < 60) return "about " + Math.max(1, Math.round(seconds)) + " s left";
  return "about " + Math.round(seconds / 60) + " min left";
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// ---- views

function show(view) {
  for (const name of ["upload", "progress"]) {
    $("view-" + name).hidden = name !== view;
    $("tab-" + name).classList.toggle("active", name === view);
  }
  clearTimeout(progressTimer);
  if (view === "progress") pollProgress();
}

// ---- upload

async function loadMe() {
  const answer = await api("GET", "/api/me");
  if (!answer.ok) { problem(answer.data); $("picker").hidden = true; return false; }
  me = answer.data;
  $("limit").textContent = "Up to " + me.limit_words + ". The upload goes on where it stopped if your connection drops.";
  $("consent").hidden = me.agreed;
  if (!me.agreed) $("privacy").textContent = me.privacy;
  if (me.avatar && me.avatar.in_production) {
    $("choice-title").textContent = me.avatar.name + " is already being made from your earlier video. What should this video do?";
    $("choice-again").textContent = "Make " + me.avatar.name + " again from it";
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
    problem(refusal && refusal.message ? refusal : { message: "the upload stopped", advice: "check your connection and press Send again: it goes on where it stopped" });
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
      if (failures >= RETRY_MS.length) throw { message: "the connection keeps dropping", advice: "press Send again when you are back online: it goes on where it stopped" };
      $("upload-status").textContent = "Connection lost, trying again…";
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
  const parts = [sizeWords(offset) + " of " + sizeWords(size) + " (" + Math.floor(100 * offset / size) + "%)"];
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
      $("upload-status").textContent = intake.done ? "" : "Stored as version " + upload.version + ". Checking your video: " + intake.state + "…";
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
    value.textContent = ": " + item.value;
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
    $("avatar-name").textContent = "Your avatar";
    $("step-summary").textContent = data.empty;
    return;
  }
  $("avatar-name").textContent = data.avatar.name;
  $("step-summary").textContent = data.avatar.summary;
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
    $("file-label").textContent = file ? file.name + " (" + sizeWords(file.size) + ")" : "Choose your video";
    updateSend();
  });
  $("send").addEventListener("click", send);
  $("agree").addEventListener("click", agree);
  show(new URLSearchParams(location.search).get("view") === "progress" ? "progress" : "upload");
  await loadMe();
});
