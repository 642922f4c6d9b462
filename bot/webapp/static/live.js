// The talk live page: a WebRTC connection to the person's own avatar. The offer goes through the web
// app (POST /api/avatars/<id>/live), which checks that the avatar is theirs and hands it to the
// avatar's service; the picture and the sound then come straight from the service, and what the
// person types goes to it on the data channel "talk". Signed in as the main page is (Telegram's
// initData, else the session cookie). The words are English and live in this page's files until the
// catalogue's translation reaches it.
"use strict";

const launch = new URLSearchParams(location.hash.slice(1));
const initData = (window.Telegram && window.Telegram.WebApp && window.Telegram.WebApp.initData) || launch.get("tgWebAppData") || "";
const $ = (id) => document.getElementById(id);
const GATHER_MS = 3000;  // the offer is sent whole, candidates included: the service takes no trickled ones

let avatarId = null;
let iceServers = [];  // STUN/TURN servers from the web app's settings (TWINFORGE_LIVE_ICE_SERVERS); none on one machine
let session = null;
let pc = null;
let channel = null;
let recorder = null;
window.livePc = null;  // the open connection, for the browser test's getStats()
window.liveEvents = [];  // what the service said on the data channel, in order (the browser test reads it)

async function api(method, path, body) {
  const headers = {};
  if (initData) headers.Authorization = "tma " + initData;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  const data = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, data };
}

function problem(data) {
  const box = $("problem");
  if (!data) { box.hidden = true; return; }
  box.textContent = [data.message, data.advice].filter(Boolean).map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join(". ") + ".";
  box.hidden = false;
}

function status(words) { $("live-status").textContent = words; }

function caption(words) {
  $("live-caption").textContent = words;
  $("live-caption").hidden = !words;
}

async function load() {
  const me = await api("GET", "/api/me");
  if (!me.ok) { problem(me.data); return; }
  if (!me.data.avatar) { $("live-words").textContent = "You have no avatar yet. Send your video on the Upload page first."; return; }
  avatarId = me.data.avatar.id;
  const state = await api("GET", `/api/avatars/${avatarId}/live`);
  if (!state.ok) { problem(state.data); return; }
  iceServers = state.data.ice_servers || [];
  $("live-name").textContent = `Talk live with ${state.data.name}`;
  $("live-words").textContent = state.data.live ? "Your avatar answers as you type, with your face, live." : state.data.words;
  $("live-start").hidden = !state.data.live;
}

function gathered(connection) {
  if (connection.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(done, GATHER_MS);
    connection.addEventListener("icegatheringstatechange", () => {
      if (connection.iceGatheringState === "complete") { clearTimeout(timer); done(); }
    });
  });
}

const SAID = {
  ready: () => "Connected. Type something.",
  thinking: () => "Thinking…",
  speaking: () => "Speaking…",
  done: () => "Listening.",
  interrupted: () => "",
};

function heard(event) {
  window.liveEvents.push(event);
  if (event.type === "error") { problem(event); status("Listening."); return; }
  if (event.type === "reply") caption(event.text);
  if (event.type === "done") caption("");
  const words = SAID[event.type];
  if (words && words()) status(words());
}

async function start() {
  problem(null);
  $("live-start").disabled = true;
  status("Connecting…");
  pc = new RTCPeerConnection({ iceServers });
  window.livePc = pc;
  channel = pc.createDataChannel("talk");
  channel.onmessage = (message) => heard(JSON.parse(message.data));
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.ontrack = (event) => {
    const video = $("live-video");
    if (!video.srcObject) video.srcObject = new MediaStream();
    video.srcObject.addTrack(event.track);
    video.play().catch(() => status("Tap the picture to hear your avatar."));
  };
  pc.onconnectionstatechange = () => {
    if (pc && pc.connectionState === "failed") {
      problem({ message: "the connection to your avatar was lost", advice: "press Start talking again" });
      stop();
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const answer = await api("POST", `/api/avatars/${avatarId}/live`, { sdp: pc.localDescription.sdp, type: pc.localDescription.type });
  if (!answer.ok) {
    problem(answer.data);
    stop();
    return;
  }
  session = answer.data.session;
  await pc.setRemoteDescription({ sdp: answer.data.sdp, type: answer.data.type });
  $("live-start").hidden = true;
  $("live-form").hidden = false;
  $("live-text").focus();
}

function say(submitted) {
  submitted.preventDefault();
  const text = $("live-text").value.trim();
  if (!text || !channel || channel.readyState !== "open") return;
  channel.send(JSON.stringify({ type: "say", text }));
  $("live-text").value = "";
}

// A spoken question: recorded until the button is pressed again, then posted (the web app forwards
// it to the service); the avatar says it back in the person's voice, or the brain answers it.
async function talk() {
  if (recorder) { recorder.stop(); return; }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    problem({ message: "the microphone is not available to this page", advice: "allow it in the browser's settings, or type instead" });
    return;
  }
  const parts = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (event) => parts.push(event.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((track) => track.stop());
    const type = (recorder.mimeType || "audio/webm").split(";")[0];
    recorder = null;
    $("live-talk").textContent = "Speak instead";
    if (!session) return;
    status("Sending what you said…");
    const headers = { "Content-Type": type };
    if (initData) headers.Authorization = "tma " + initData;
    const response = await fetch(`/api/avatars/${avatarId}/live/${session}/voice`,
      { method: "POST", headers, body: new Blob(parts, { type }), credentials: "same-origin" });
    if (!response.ok) problem(await response.json().catch(() => ({})));
  };
  recorder.start();
  $("live-talk").textContent = "Stop and send";
  status("Listening to you… press again when you are done.");
}

function stop() {
  if (session) api("DELETE", `/api/avatars/${avatarId}/live/${session}`);
  if (recorder) recorder.stop();
  if (pc) pc.close();
  pc = null;
  channel = null;
  session = null;
  caption("");
  $("live-form").hidden = true;
  $("live-start").hidden = false;
  $("live-start").disabled = false;
  status("");
}

$("live-start").addEventListener("click", () => start().catch((error) => { problem({ message: String(error.message || error) }); stop(); }));
$("live-form").addEventListener("submit", say);
$("live-stop").addEventListener("click", stop);
$("live-talk").addEventListener("click", () => talk().catch((error) => problem({ message: String(error.message || error) })));
$("live-video").addEventListener("click", () => $("live-video").play());
window.addEventListener("pagehide", stop);
load().catch((error) => problem({ message: String(error.message || error) }));
