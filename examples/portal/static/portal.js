// Plain JavaScript, no build step: live password feedback, the camera check, passkeys.
"use strict";

function post(url, csrf, body, headers) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: Object.assign({ "X-CSRF-Token": csrf }, headers || {}),
    body: body,
  });
}

// Live policy feedback: ask the server (PasswordVerifier.check_policy) a moment after typing stops.
function passwordFeedback() {
  const form = document.getElementById("password-form");
  if (!form) return;
  const input = document.getElementById("password");
  const out = document.getElementById("policy");
  let timer = null;
  let asked = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++asked;
      const response = await post(form.dataset.policy, form.dataset.csrf,
        JSON.stringify({ password: input.value }), { "Content-Type": "application/json" });
      const answer = await response.json();
      if (mine !== asked) return; // an older answer arriving late
      out.textContent = answer.message;
      out.className = "policy " + (answer.approved ? "ok" : "refused");
      out.dataset.reason = answer.reason;
    }, 250);
  });
}

// The face check: camera -> canvas -> JPEG -> POST; the verdict is read out in the live region.
function faceCheck() {
  const box = document.querySelector("[data-face-check]");
  if (!box) return;
  const video = document.getElementById("camera");
  const canvas = document.getElementById("frame");
  const start = document.getElementById("start-camera");
  const take = document.getElementById("take-photo");
  const result = document.getElementById("face-result");
  const ways = document.getElementById("face-ways");
  let stream = null;

  start.addEventListener("click", async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      video.srcObject = stream;
      video.hidden = false;
      canvas.hidden = true;
      await video.play();
      take.disabled = false;
      take.focus();
    } catch (err) {
      result.textContent = box.dataset.error;
      result.className = "result refused";
    }
  });

  take.addEventListener("click", async () => {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
    if (stream) stream.getTracks().forEach((track) => track.stop());
    video.hidden = true;
    canvas.hidden = false; // the picture that was sent stays in view
    take.disabled = true;
    result.textContent = box.dataset.wait;
    result.className = "result";
    const form = new FormData();
    form.append("csrf", box.dataset.csrf);
    form.append("photo", blob, "frame.jpg");
    const response = await post(box.dataset.faceCheck, box.dataset.csrf, form);
    const answer = await response.json();
    result.textContent = answer.message;
    result.className = "result " + (answer.approved ? "approved" : "refused");
    result.dataset.reason = answer.reason || "";
    ways.replaceChildren(...(answer.ways || []).map((label) => {
      const li = document.createElement("li");
      li.textContent = label;
      return li;
    }));
  });
}

// Passkeys (WebAuthn). A button carries its two URLs: the options (registration_options or
// authentication_options, as JSON) and where the browser's answer goes (register or verify).
// WebAuthn's JSON writes bytes as base64url text while navigator.credentials takes and gives
// ArrayBuffers, so the few byte fields are converted here, both ways, in plain JavaScript.
function fromB64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

function toB64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function withIds(descriptors) {
  return (descriptors || []).map((d) => Object.assign({}, d, { id: fromB64url(d.id) }));
}

// PublicKeyCredentialCreationOptions from registration_options' JSON.
function creationOptions(json) {
  return Object.assign({}, json, {
    challenge: fromB64url(json.challenge),
    user: Object.assign({}, json.user, { id: fromB64url(json.user.id) }),
    excludeCredentials: withIds(json.excludeCredentials),
  });
}

// PublicKeyCredentialRequestOptions from authentication_options' JSON.
function requestOptions(json) {
  return Object.assign({}, json, {
    challenge: fromB64url(json.challenge),
    allowCredentials: withIds(json.allowCredentials),
  });
}

// The credential as the JSON verifykit reads (what credential.toJSON() gives where it exists).
function credentialJSON(credential) {
  const r = credential.response;
  const response = { clientDataJSON: toB64url(r.clientDataJSON) };
  if (r.attestationObject) { // navigator.credentials.create
    response.attestationObject = toB64url(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else { // navigator.credentials.get
    response.authenticatorData = toB64url(r.authenticatorData);
    response.signature = toB64url(r.signature);
    response.userHandle = r.userHandle ? toB64url(r.userHandle) : null;
  }
  return {
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || null,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: response,
  };
}

// Words in the page's aria-live region; data-reason says what happened (tests read it).
function say(kind, text, reason, ways) {
  const region = document.getElementById("messages");
  const p = document.createElement("p");
  p.className = kind;
  p.id = kind;
  p.textContent = text;
  const nodes = [p];
  if (ways && ways.length) {
    const list = document.createElement("ul");
    list.id = "passkey-ways";
    list.setAttribute("aria-label", region.dataset.waysLabel || "");
    for (const way of ways) {
      const link = document.createElement("a");
      link.href = way.href;
      link.dataset.way = way.way;
      link.textContent = way.label;
      const item = document.createElement("li");
      item.append(link);
      list.append(item);
    }
    nodes.push(list);
  }
  region.replaceChildren(...nodes);
  region.dataset.reason = reason || "";
}

async function passkeyCeremony(button) {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const json = { "Content-Type": "application/json" };
  const body = {};
  if (button.dataset.emailField) {
    const field = document.getElementById(button.dataset.emailField);
    if (!field.value.trim()) {
      say("error", button.dataset.needEmail, "need_email");
      field.focus();
      return;
    }
    body.email = field.value.trim();
  }
  button.disabled = true;
  say("notice", button.dataset.working, "");
  try {
    const started = await post(button.dataset.options, csrf, JSON.stringify(body), json);
    const begun = await started.json();
    if (!started.ok) {
      say("error", begun.message, begun.reason || "refused");
      return;
    }
    let credential;
    try {
      credential = button.dataset.passkey === "register"
        ? await navigator.credentials.create({ publicKey: creationOptions(begun.options) })
        : await navigator.credentials.get({ publicKey: requestOptions(begun.options) });
    } catch (err) { // canceled, timed out, not verified, or no passkey for this account here
      say("error", button.dataset.failed, "browser:" + err.name);
      return;
    }
    const finished = await post(button.dataset.finish, csrf, JSON.stringify(credentialJSON(credential)), json);
    const answer = await finished.json();
    if (answer.approved) {
      window.location.assign(answer.next);
      return;
    }
    say("error", answer.message, answer.reason || "refused", answer.ways);
  } catch (err) {
    say("error", button.dataset.failed, "error");
  } finally {
    button.disabled = false;
  }
}

function passkeyHooks() {
  const buttons = document.querySelectorAll("[data-passkey]");
  if (!window.PublicKeyCredential || !navigator.credentials) {
    document.querySelectorAll("[data-passkey-section]").forEach((section) => { section.hidden = true; });
    buttons.forEach((button) => { button.hidden = true; });
    return;
  }
  buttons.forEach((button) => button.addEventListener("click", () => passkeyCeremony(button)));
}

document.addEventListener("DOMContentLoaded", () => {
  passwordFeedback();
  faceCheck();
  passkeyHooks();
});
