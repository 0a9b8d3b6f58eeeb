// The demo chat page: plain JavaScript against the service's REST API and Socket.IO events.
// Every piece of user data reaches the DOM through textContent or attributes, never innerHTML.
"use strict";

const API = "/api/v1/messages";
const PAGE = 30;
const MAX_SYNC_PAGES = 20; // catch-up after a drop is bounded: 20 pages of 100 at most
const TYPING_IDLE_MS = 2000;

const TEXT = {
  en: {
    title: "E-Santé messaging", skip: "Skip to the message box", language: "Language",
    offline: "Offline: reconnecting… Messages you missed will appear when the connection is back.",
    signin: "Sign in", server: "Service URL", devSignin: "Development sign-in (make run)",
    role: "Role", patient: "Patient", doctor: "Doctor", name: "Name", signinButton: "Sign in",
    tokenSignin: "Or paste a token (deployed service)", token: "JWT", useToken: "Use this token",
    yourId: "Your id", copy: "Copy", copied: "Copied", newConversation: "New conversation",
    recipientId: "Their user id", recipientType: "They are a", open: "Open",
    search: "Search messages", searchButton: "Search", conversations: "Conversations",
    pick: "Pick or open a conversation", older: "Load older messages", message: "Message",
    placeholder: "Write a message", attach: "Attach a file", send: "Send",
    typing: (n) => `${n} is typing…`, online: "online", offlineDot: "offline",
    connected: "Connected", connecting: "Connecting…", disconnected: "Offline",
    deleted: "This message was deleted", del: "Delete", delLabel: "Delete this message",
    sending: "Sending", sent: "Sent", delivered: "Delivered", read: "Read", failed: "Not sent",
    unread: (n) => `${n} unread`, noMessages: "No messages yet", noResults: "No results",
    uploading: "Uploading…", you: "You", signinFailed: "Sign-in failed",
    // #17: voice and video, doctors' templates and response analytics
    duration: (d) => `Duration ${d}`, templates: "Templates", templateTitle: "Title",
    templateContent: "Text ({{patientName}}, {{doctorName}} are filled in)",
    templateSave: "Save template", cancel: "Cancel", useTemplate: "Send",
    useTemplateLabel: (n) => `Send the template ${n} in this conversation`, edit: "Edit",
    editLabel: (n) => `Edit the template ${n}`, delLabelTemplate: (n) => `Delete the template ${n}`,
    noTemplates: "No templates yet", pickFirst: "Open a conversation first",
    analytics: "Response analytics", analyticsOpen: "Show the last 30 days",
    awaiting: "Awaiting your reply", replies: "Replies", median: "Median response time",
    p90: "90th percentile", perDay: "Messages per day", day: "Day", sentCol: "Sent",
    receivedCol: "Received", total: "Total", none: "—",
  },
  fr: {
    title: "Messagerie E-Santé", skip: "Aller à la zone de message", language: "Langue",
    offline: "Hors ligne : reconnexion… Les messages manqués arriveront au retour de la connexion.",
    signin: "Connexion", server: "URL du service",
    devSignin: "Connexion de développement (make run)", role: "Rôle", patient: "Patient",
    doctor: "Médecin", name: "Nom", signinButton: "Se connecter",
    tokenSignin: "Ou collez un jeton (service déployé)", token: "JWT",
    useToken: "Utiliser ce jeton", yourId: "Votre identifiant", copy: "Copier", copied: "Copié",
    newConversation: "Nouvelle conversation", recipientId: "Son identifiant",
    recipientType: "C'est un", open: "Ouvrir", search: "Rechercher dans les messages",
    searchButton: "Rechercher", conversations: "Conversations",
    pick: "Choisissez ou ouvrez une conversation", older: "Messages plus anciens",
    message: "Message", placeholder: "Écrire un message", attach: "Joindre un fichier",
    send: "Envoyer", typing: (n) => `${n} écrit…`, online: "en ligne", offlineDot: "hors ligne",
    connected: "Connecté", connecting: "Connexion…", disconnected: "Hors ligne",
    deleted: "Ce message a été supprimé", del: "Supprimer", delLabel: "Supprimer ce message",
    sending: "Envoi", sent: "Envoyé", delivered: "Distribué", read: "Lu", failed: "Non envoyé",
    unread: (n) => `${n} non lus`, noMessages: "Pas encore de message", noResults: "Aucun résultat",
    uploading: "Envoi du fichier…", you: "Vous", signinFailed: "Échec de la connexion",
    duration: (d) => `Durée ${d}`, templates: "Modèles", templateTitle: "Titre",
    templateContent: "Texte ({{patientName}}, {{doctorName}} sont remplis)",
    templateSave: "Enregistrer le modèle", cancel: "Annuler", useTemplate: "Envoyer",
    useTemplateLabel: (n) => `Envoyer le modèle ${n} dans cette conversation`, edit: "Modifier",
    editLabel: (n) => `Modifier le modèle ${n}`, delLabelTemplate: (n) => `Supprimer le modèle ${n}`,
    noTemplates: "Pas encore de modèle", pickFirst: "Ouvrez d'abord une conversation",
    analytics: "Délais de réponse", analyticsOpen: "Voir les 30 derniers jours",
    awaiting: "En attente de votre réponse", replies: "Réponses", median: "Délai médian",
    p90: "90e centile", perDay: "Messages par jour", day: "Jour", sentCol: "Envoyés",
    receivedCol: "Reçus", total: "Total", none: "—",
  },
};

const $ = (id) => document.getElementById(id);
const state = {
  lang: "en",
  base: "",
  token: "",
  me: null, // {id, role, name}
  socket: null,
  everConnected: false,
  conversations: new Map(), // id -> conversation as the list returns it
  current: null, // the open conversation
  oldestId: null,
  hasMore: false,
  loadingOlder: false,
  lastSeq: new Map(), // conversationId -> highest seq seen, for catch-up by afterSeq
  typingSent: false,
  typingTimer: null,
  tempSeq: 0,
  templates: [], // #17: the doctor's templates, most recently changed first
};

function t(key, ...args) {
  const v = (TEXT[state.lang] || TEXT.en)[key] ?? TEXT.en[key] ?? key;
  return typeof v === "function" ? v(...args) : v;
}

function applyLanguage(lang) {
  state.lang = TEXT[lang] ? lang : "en";
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  try { localStorage.setItem("lang", state.lang); } catch { /* private mode: fine */ }
  if (state.current) renderThreadHead();
  if (state.me?.role === "doctor") renderTemplates();
  setConnection(state.socket?.connected ? "connected" : state.socket ? "connecting" : "idle");
}

function notice(text) {
  const el = $("notice");
  el.textContent = text;
  el.hidden = !text;
}

// ---- REST -----------------------------------------------------------------------------------

async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(`${state.base}${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.message || `HTTP ${r.status}`);
  return data;
}

// ---- Sign-in --------------------------------------------------------------------------------

function claimsOf(token) {
  // Display only: the service verifies the token on every call.
  const part = token.split(".")[1] || "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  const c = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (ch) => ch.charCodeAt(0))));
  return { id: c.sub || c.userId || c.id, role: c.role || c.userType, name: c.name || "" };
}

async function devSignIn(event) {
  event.preventDefault();
  state.base = $("server-url").value.replace(/\/+$/, "");
  try {
    const r = await fetch(`${state.base}/dev/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ role: $("dev-role").value, name: $("dev-name").value.trim() }),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.message || `HTTP ${r.status}`);
    await start(data.data.token);
  } catch (err) {
    showSigninError(err);
  }
}

async function tokenSignIn(event) {
  event.preventDefault();
  state.base = $("server-url").value.replace(/\/+$/, "");
  try {
    await start($("token-input").value.trim());
  } catch (err) {
    showSigninError(err);
  }
}

function showSigninError(err) {
  const el = $("signin-error");
  el.textContent = `${t("signinFailed")}: ${err.message}`;
  el.hidden = false;
}

async function start(token) {
  state.token = token;
  state.me = claimsOf(token);
  await loadConversations(); // proves the token before the page switches
  $("signin").hidden = true;
  $("app").hidden = false;
  $("my-id").textContent = state.me.id;
  const who = $("whoami");
  who.textContent = `${state.me.name || state.me.id} · ${t(state.me.role)}`;
  who.hidden = false;
  // #17: templates and analytics are for doctors (the service refuses patients with 403 too).
  const doctor = state.me.role === "doctor";
  $("templates").hidden = !doctor;
  $("analytics").hidden = !doctor;
  if (doctor) await loadTemplates();
  connect();
}

// ---- Socket ---------------------------------------------------------------------------------

function setConnection(s) {
  const el = $("connection");
  el.dataset.state = s;
  el.textContent = s === "idle" ? "" : t(s);
}

function connect() {
  setConnection("connecting");
  const socket = io(state.base || undefined, {
    auth: { token: state.token },
    transports: ["websocket"],
    reconnectionDelayMax: 5000,
  });
  state.socket = socket;
  socket.on("connect", onConnect);
  socket.on("disconnect", () => {
    setConnection("disconnected");
    $("offline-banner").hidden = false;
  });
  socket.on("connect_error", (err) => {
    setConnection("disconnected");
    $("offline-banner").hidden = false;
    if (!socket.active) notice(err.message); // refused (bad token): no automatic retry
  });
  socket.on("new_message", onNewMessage);
  socket.on("message_sent", (d) => confirmSent(d.tempId, d.messageId));
  socket.on("message_delivered", (d) => setStatus(d.messageId, "delivered"));
  socket.on("messages_read", (d) => d.messageIds.forEach((id) => setStatus(id, "read")));
  socket.on("mark_as_read_success", () => scheduleListRefresh());
  socket.on("user_typing", (d) => showTyping(d, true));
  socket.on("user_stopped_typing", (d) => showTyping(d, false));
  socket.on("user_online", (d) => setOnline(d.userId, true));
  socket.on("user_offline", (d) => setOnline(d.userId, false));
  socket.on("message_deleted", (d) => markDeleted(d.messageId));
  socket.on("error", (e) => notice(`${e.event}: ${e.message}`));
}

async function onConnect() {
  setConnection("connected");
  $("offline-banner").hidden = true;
  const again = state.everConnected;
  state.everConnected = true;
  if (state.current) state.socket.emit("join_conversation", { conversationId: state.current.conversationId });
  if (again) {
    // After a drop: fetch exactly what was missed (afterSeq), then the list's counts.
    if (state.current) await catchUp(state.current.conversationId);
    await loadConversations();
  }
}

async function catchUp(conversationId) {
  for (let i = 0; i < MAX_SYNC_PAGES; i++) {
    const afterSeq = state.lastSeq.get(conversationId) || 0;
    const r = await state.socket.timeout(5000).emitWithAck("sync", { conversationId, afterSeq, limit: 100 });
    if (!r.ok) { notice(r.message); return; }
    if (state.current?.conversationId !== conversationId) return;
    r.messages.forEach((m) => appendMessage(m));
    markVisibleRead();
    if (!r.hasMore || r.messages.length === 0) return;
  }
}

// ---- Conversations --------------------------------------------------------------------------

async function loadConversations() {
  const r = await api(`${API}/conversations?type=all&page=1&limit=100`);
  state.conversations = new Map(r.data.map((c) => [c.conversationId, c]));
  // Keep the open conversation pointing at the fresh copy (presence and names live on it).
  if (state.current) state.current = state.conversations.get(state.current.conversationId) || state.current;
  renderConversations();
}

let refreshTimer = null;
function scheduleListRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => loadConversations().catch((e) => notice(e.message)), 150);
}

function renderConversations() {
  const list = $("conversations");
  list.replaceChildren();
  for (const c of state.conversations.values()) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "conversation";
    b.dataset.id = c.conversationId;
    b.dataset.partner = c.recipient.id;
    if (state.current?.conversationId === c.conversationId) b.setAttribute("aria-current", "true");
    const dot = document.createElement("span");
    dot.className = "dot";
    dot.dataset.online = String(!!c.recipient.isOnline);
    dot.setAttribute("role", "img");
    dot.setAttribute("aria-label", c.recipient.isOnline ? t("online") : t("offlineDot"));
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = c.recipient.name || c.recipient.id;
    const last = document.createElement("span");
    last.className = "last";
    last.textContent = c.lastMessage ? c.lastMessage.content : t("noMessages");
    b.append(dot, name, last);
    if (c.unreadCount > 0) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = String(c.unreadCount);
      badge.setAttribute("aria-label", t("unread", c.unreadCount));
      b.append(badge);
    }
    b.addEventListener("click", () => openConversation(c.conversationId));
    li.append(b);
    list.append(li);
  }
}

async function startConversation(event) {
  event.preventDefault();
  try {
    const r = await api(`${API}/conversations`, {
      method: "POST",
      body: { recipientId: $("recipient-id").value.trim(), recipientType: $("recipient-type").value },
    });
    $("recipient-id").value = "";
    await loadConversations();
    await openConversation(r.data.conversationId);
  } catch (err) {
    notice(err.message);
  }
}

async function openConversation(id) {
  if (state.current?.conversationId !== id) stopTyping();
  if (!state.conversations.has(id)) await loadConversations();
  state.current = state.conversations.get(id);
  if (!state.current) return;
  $("messages").replaceChildren();
  $("typing").textContent = "";
  renderThreadHead();
  $("composer").hidden = false;
  const r = await api(`${API}/conversations/${id}/messages?page=1&limit=${PAGE}`);
  if (state.current?.conversationId !== id) return;
  const msgs = r.data.messages; // newest first
  msgs.slice().reverse().forEach((m) => appendMessage(m));
  state.oldestId = msgs.length ? msgs[msgs.length - 1].id : null;
  state.hasMore = !!r.data.pagination.hasMore;
  $("load-older").hidden = !state.hasMore;
  scrollToBottom();
  state.socket?.emit("join_conversation", { conversationId: id });
  markVisibleRead();
  renderConversations();
  $("composer-input").focus();
}

function renderThreadHead() {
  const c = state.current;
  $("thread-title").textContent = c.recipient.name || c.recipient.id;
  const dot = $("partner-dot");
  dot.hidden = false;
  dot.dataset.online = String(!!c.recipient.isOnline);
  dot.setAttribute("role", "img");
  dot.setAttribute("aria-label", c.recipient.isOnline ? t("online") : t("offlineDot"));
}

async function loadOlder() {
  if (!state.current || !state.hasMore || state.loadingOlder || !state.oldestId) return;
  state.loadingOlder = true;
  const id = state.current.conversationId;
  try {
    const r = await api(`${API}/conversations/${id}/messages?limit=${PAGE}&before=${state.oldestId}`);
    if (state.current?.conversationId !== id) return;
    const box = $("messages");
    const fromBottom = box.scrollHeight - box.scrollTop; // keep the reader's place
    for (const m of r.data.messages) prependMessage(m); // newest first: each goes on top
    const msgs = r.data.messages;
    if (msgs.length) state.oldestId = msgs[msgs.length - 1].id;
    state.hasMore = !!r.data.pagination.hasMore;
    $("load-older").hidden = !state.hasMore;
    box.scrollTop = box.scrollHeight - fromBottom;
  } catch (err) {
    notice(err.message);
  } finally {
    state.loadingOlder = false;
  }
}

// ---- Messages -------------------------------------------------------------------------------

function statusOf(m) {
  if (m.isRead) return "read";
  if (m.isDelivered) return "delivered";
  return "sent";
}

function messageElement(m) {
  const li = document.createElement("li");
  li.className = "message";
  li.dataset.id = m.id || "";
  const mine = m.senderId === state.me.id;
  li.dataset.mine = String(mine);
  const body = document.createElement("div");
  body.className = "body";
  li.append(body);
  const meta = document.createElement("div");
  meta.className = "meta";
  const time = document.createElement("time");
  if (m.createdAt) {
    time.dateTime = m.createdAt;
    time.textContent = new Date(m.createdAt).toLocaleTimeString(state.lang, { hour: "2-digit", minute: "2-digit" });
  }
  meta.append(time);
  if (mine) {
    const tick = document.createElement("span");
    tick.className = "tick";
    meta.append(tick);
    const del = document.createElement("button");
    del.type = "button";
    del.className = "delete";
    del.textContent = t("del");
    del.setAttribute("aria-label", t("delLabel"));
    del.addEventListener("click", () => deleteMessage(li.dataset.id));
    meta.append(del);
  }
  li.append(meta);
  fillBody(li, m);
  if (mine) setStatusOn(li, m.status || statusOf(m));
  return li;
}

function fillBody(li, m) {
  const body = li.querySelector(".body");
  body.replaceChildren();
  if (m.isDeleted) {
    li.dataset.deleted = "true";
    body.textContent = t("deleted");
    li.querySelector(".delete")?.remove();
    return;
  }
  const a = m.attachment;
  if (a && a.url) {
    const mime = a.mimeType || "";
    if (mime.startsWith("audio/") || mime.startsWith("video/")) {
      // #17: voice and video play inline from the short-lived link (served `inline` for these).
      const media = document.createElement(mime.startsWith("audio/") ? "audio" : "video");
      media.controls = true;
      media.preload = "metadata";
      media.src = a.url;
      media.className = "inline-media";
      media.setAttribute("aria-label", a.fileName || mime);
      if (media.tagName === "VIDEO") media.playsInline = true;
      body.append(media);
      if (typeof a.durationSeconds === "number") {
        const d = document.createElement("span");
        d.className = "duration";
        d.textContent = t("duration", clockTime(a.durationSeconds));
        body.append(d);
      }
    } else if (mime.startsWith("image/")) {
      const img = document.createElement("img");
      img.src = a.url;
      img.alt = a.fileName || "image";
      img.className = "inline-image";
      body.append(img);
    } else {
      const link = document.createElement("a");
      link.href = a.url;
      link.className = "file";
      link.textContent = a.fileName || "document";
      link.setAttribute("download", a.fileName || "");
      link.rel = "noopener";
      body.append(link);
    }
  }
  if (m.content && !(a && m.content === a.fileName)) {
    const p = document.createElement("p");
    p.textContent = m.content;
    body.append(p);
  }
}

function setStatusOn(li, s) {
  const order = { failed: -1, sending: 0, sent: 1, delivered: 2, read: 3 };
  const now = li.dataset.status;
  if (now && now !== "failed" && order[s] < order[now]) return; // receipts never go backwards
  li.dataset.status = s;
  const tick = li.querySelector(".tick");
  if (!tick) return;
  tick.textContent = { sending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" }[s];
  tick.setAttribute("aria-label", t(s));
  tick.title = t(s);
}

function findMessage(id) {
  return id ? $("messages").querySelector(`li[data-id="${CSS.escape(id)}"]`) : null;
}

function setStatus(id, s) {
  const li = findMessage(id);
  if (li && li.dataset.mine === "true") setStatusOn(li, s);
}

function trackSeq(m) {
  if (typeof m.seq === "number") {
    const prev = state.lastSeq.get(m.conversationId) || 0;
    if (m.seq > prev) state.lastSeq.set(m.conversationId, m.seq);
  }
}

function appendMessage(m) {
  trackSeq(m);
  const existing = findMessage(m.id);
  if (existing) { fillBody(existing, m); return existing; }
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const li = messageElement(m);
  box.append(li);
  if (atBottom || m.senderId === state.me.id) scrollToBottom();
  return li;
}

function prependMessage(m) {
  trackSeq(m);
  if (findMessage(m.id)) return;
  $("messages").prepend(messageElement(m));
}

function scrollToBottom() {
  const box = $("messages");
  box.scrollTop = box.scrollHeight;
}

function onNewMessage(m) {
  if (state.current?.conversationId === m.conversationId) {
    appendMessage(m);
    if (m.senderId !== state.me.id) {
      $("typing").textContent = "";
      markVisibleRead();
    }
  }
  scheduleListRefresh();
}

function markVisibleRead() {
  // The thread on screen is read: tell the sender (mark_as_read -> messages_read).
  if (!state.current || !state.socket?.connected || document.visibilityState === "hidden") return;
  const unread = [...$("messages").querySelectorAll('li[data-mine="false"]:not([data-read="true"])')]
    .map((li) => li.dataset.id).filter(Boolean);
  if (!unread.length) return;
  unread.forEach((id) => { findMessage(id).dataset.read = "true"; });
  state.socket.emit("mark_as_read", { conversationId: state.current.conversationId, messageIds: unread });
}

function confirmSent(tempId, messageId) {
  const li = tempId ? $("messages").querySelector(`li[data-temp-id="${CSS.escape(tempId)}"]`) : null;
  if (!li) return;
  li.dataset.id = messageId;
  setStatusOn(li, "sent");
}

function sendText(event) {
  event.preventDefault();
  const input = $("composer-input");
  const content = input.value.trim();
  if (!content || !state.current) return;
  const c = state.current;
  const tempId = `temp_${Date.now()}_${++state.tempSeq}`;
  const li = messageElement({
    senderId: state.me.id, content, createdAt: new Date().toISOString(), status: "sending",
  });
  li.dataset.tempId = tempId;
  $("messages").append(li);
  scrollToBottom();
  input.value = "";
  state.typingSent = false; // the server ends typing when a message is sent
  clearTimeout(state.typingTimer);
  state.socket.timeout(10000).emit(
    "send_message",
    { conversationId: c.conversationId, receiverId: c.recipient.id, messageType: "text", content, tempId },
    (err, ack) => {
      if (err || !ack.ok) {
        setStatusOn(li, "failed");
        notice(err ? err.message : ack.message);
        return;
      }
      li.dataset.id = ack.messageId;
      if (typeof ack.seq === "number") trackSeq({ conversationId: c.conversationId, seq: ack.seq });
      if (li.dataset.status === "sending") setStatusOn(li, "sent");
      scheduleListRefresh(); // the list's last message is now this one
    },
  );
}

async function deleteMessage(id) {
  if (!id) return;
  try {
    await api(`${API}/${id}`, { method: "DELETE" });
    markDeleted(id);
  } catch (err) {
    notice(err.message);
  }
}

function markDeleted(id) {
  const li = findMessage(id);
  if (li) fillBody(li, { isDeleted: true });
  scheduleListRefresh();
}

// ---- Attachments: presigned POST straight to S3, then send-file with the key -----------------

async function sendFile() {
  const input = $("file-input");
  const file = input.files[0];
  if (!file || !state.current) return;
  const c = state.current;
  notice(t("uploading"));
  try {
    const grant = await api(`${API}/conversations/${c.conversationId}/attachments`, {
      method: "POST",
      body: { fileName: file.name, mimeType: file.type, fileSize: file.size },
    });
    const form = new FormData();
    Object.entries(grant.data.fields).forEach(([k, v]) => form.append(k, v));
    form.append("file", file); // last, as S3 requires
    const up = await fetch(grant.data.uploadUrl, { method: "POST", body: form });
    if (!up.ok) throw new Error(`upload refused: ${up.status}`);
    const body = { key: grant.data.key, receiverId: c.recipient.id, messageType: messageTypeOf(file.type) };
    const seconds = await mediaSeconds(file);
    if (seconds) body.durationSeconds = seconds;
    const sent = await api(`${API}/conversations/${c.conversationId}/send-file`, { method: "POST", body });
    if (state.current?.conversationId === c.conversationId) setStatusOn(appendMessage(sent.data), statusOf(sent.data));
    scheduleListRefresh();
    notice("");
  } catch (err) {
    notice(err.message);
  } finally {
    input.value = "";
  }
}

function messageTypeOf(mime) {
  for (const kind of ["image", "audio", "video"]) if (mime.startsWith(`${kind}/`)) return kind;
  return "document";
}

// The declared duration of a voice or video file (#17): what the browser reads from the file's
// own header, rounded up; none when it cannot tell within 5 s (the field is optional).
function mediaSeconds(file) {
  const kind = messageTypeOf(file.type);
  if (kind !== "audio" && kind !== "video") return Promise.resolve(null);
  return new Promise((resolve) => {
    const el = document.createElement(kind);
    const url = URL.createObjectURL(file);
    const done = (v) => { clearTimeout(timer); URL.revokeObjectURL(url); el.removeAttribute("src"); resolve(v); };
    const timer = setTimeout(() => done(null), 5000);
    el.preload = "metadata";
    el.onloadedmetadata = () => {
      const d = el.duration;
      done(Number.isFinite(d) && d > 0 ? Math.min(600, Math.max(1, Math.round(d))) : null);
    };
    el.onerror = () => done(null);
    el.src = url;
  });
}

function clockTime(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// ---- Templates (doctors, #17): CRUD over REST; sending fills the placeholders server-side ----

async function loadTemplates() {
  try {
    state.templates = (await api(`${API}/templates`)).data;
  } catch (err) {
    notice(err.message);
  }
  renderTemplates();
}

function renderTemplates() {
  const list = $("template-list");
  list.replaceChildren();
  for (const tpl of state.templates) {
    const li = document.createElement("li");
    li.className = "template";
    li.dataset.id = tpl.id;
    const title = document.createElement("strong");
    title.className = "template-title";
    title.textContent = tpl.title;
    const text = document.createElement("p");
    text.className = "template-content";
    text.textContent = tpl.content;
    const actions = document.createElement("div");
    actions.className = "row";
    const buttons = [
      ["useTemplate", "useTemplateLabel", () => sendTemplate(tpl.id)],
      ["edit", "editLabel", () => editTemplate(tpl)],
      ["del", "delLabelTemplate", () => deleteTemplate(tpl.id)],
    ];
    for (const [label, aria, onClick] of buttons) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = t(label);
      b.setAttribute("aria-label", t(aria, tpl.title));
      b.addEventListener("click", onClick);
      actions.append(b);
    }
    li.append(title, text, actions);
    list.append(li);
  }
  if (!state.templates.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = t("noTemplates");
    list.append(li);
  }
}

function editTemplate(tpl) {
  $("template-form").dataset.editing = tpl.id;
  $("template-title").value = tpl.title;
  $("template-content").value = tpl.content;
  $("template-cancel").hidden = false;
  $("template-title").focus();
}

function resetTemplateForm() {
  $("template-form").reset();
  delete $("template-form").dataset.editing;
  $("template-cancel").hidden = true;
}

async function saveTemplate(event) {
  event.preventDefault();
  const id = $("template-form").dataset.editing || "";
  const body = { title: $("template-title").value.trim(), content: $("template-content").value };
  try {
    await api(id ? `${API}/templates/${id}` : `${API}/templates`, { method: id ? "PUT" : "POST", body });
    resetTemplateForm();
    await loadTemplates();
  } catch (err) {
    notice(err.message);
  }
}

async function deleteTemplate(id) {
  try {
    await api(`${API}/templates/${id}`, { method: "DELETE" });
    if ($("template-form").dataset.editing === id) resetTemplateForm();
    await loadTemplates();
  } catch (err) {
    notice(err.message);
  }
}

async function sendTemplate(templateId) {
  const c = state.current;
  if (!c) { notice(t("pickFirst")); return; }
  try {
    // REST rather than the socket: its reply is the stored message, placeholders filled.
    const sent = await api(`${API}/conversations/${c.conversationId}/messages`, {
      method: "POST",
      body: { templateId, receiverId: c.recipient.id, tempId: `tpl_${Date.now()}_${++state.tempSeq}` },
    });
    if (state.current?.conversationId === c.conversationId) setStatusOn(appendMessage(sent.data), statusOf(sent.data));
    scheduleListRefresh();
  } catch (err) {
    notice(err.message);
  }
}

// ---- Response analytics (doctors, #17): counts and reply times, no content ------------------

function spanOf(seconds) {
  if (seconds === null || seconds === undefined) return t("none");
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

async function showAnalytics() {
  try {
    const data = (await api(`${API}/analytics`)).data;
    const tot = data.totals;
    $("an-awaiting").textContent = String(tot.awaitingReply);
    $("an-replies").textContent = String(tot.replies);
    $("an-median").textContent = spanOf(tot.medianResponseSeconds);
    $("an-p90").textContent = spanOf(tot.p90ResponseSeconds);
    const tbody = $("analytics-table").querySelector("tbody");
    tbody.replaceChildren();
    const row = (cells, cls) => {
      const tr = document.createElement("tr");
      if (cls) tr.className = cls;
      cells.forEach((v, i) => {
        const cell = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) cell.scope = "row";
        cell.textContent = String(v);
        tr.append(cell);
      });
      tbody.append(tr);
    };
    // Newest day first; quiet days are left out (a month is mostly zeros), the total keeps them.
    for (const d of data.daily.slice().reverse()) {
      if (d.sent || d.received) row([d.date, d.sent, d.received], "day");
    }
    row([t("total"), tot.sent, tot.received], "total");
    $("analytics-result").hidden = false;
  } catch (err) {
    notice(err.message);
  }
}

// ---- Presence and typing --------------------------------------------------------------------

function setOnline(userId, online) {
  for (const c of [...state.conversations.values(), state.current].filter(Boolean)) {
    if (c.recipient.id === userId) c.recipient.isOnline = online;
  }
  renderConversations();
  if (state.current?.recipient.id === userId) renderThreadHead();
}

function showTyping(d, on) {
  if (state.current?.conversationId !== d.conversationId || d.userId === state.me.id) return;
  $("typing").textContent = on ? t("typing", d.userName || state.current.recipient.name || "") : "";
}

function onComposerInput() {
  if (!state.current || !state.socket?.connected) return;
  const conversationId = state.current.conversationId;
  if (!state.typingSent) {
    state.typingSent = true;
    state.socket.emit("typing_start", { conversationId });
  }
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(state.typingTimer);
  if (state.typingSent && state.current && state.socket?.connected) {
    state.socket.emit("typing_stop", { conversationId: state.current.conversationId });
  }
  state.typingSent = false;
}

// ---- Search ---------------------------------------------------------------------------------

async function search(event) {
  event.preventDefault();
  const q = $("search-input").value.trim();
  const list = $("search-results");
  if (!q) { list.hidden = true; return; }
  try {
    const r = await api(`${API}/search?query=${encodeURIComponent(q)}&page=1&limit=20`);
    list.replaceChildren();
    for (const m of r.data.messages) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "result";
      const who = document.createElement("strong");
      who.textContent = m.senderName || "";
      const text = document.createElement("span");
      text.textContent = ` ${m.content}`;
      b.append(who, text);
      b.addEventListener("click", () => openConversation(m.conversationId));
      li.append(b);
      list.append(li);
    }
    if (!r.data.messages.length) {
      const li = document.createElement("li");
      li.textContent = t("noResults");
      list.append(li);
    }
    list.hidden = false;
  } catch (err) {
    notice(err.message);
  }
}

// ---- Wiring ---------------------------------------------------------------------------------

function init() {
  let lang = "en";
  try { lang = localStorage.getItem("lang") || (navigator.language || "en").slice(0, 2); } catch { /* fine */ }
  $("lang").value = TEXT[lang] ? lang : "en";
  applyLanguage($("lang").value);
  $("lang").addEventListener("change", (e) => applyLanguage(e.target.value));
  const params = new URLSearchParams(location.search);
  $("server-url").value = params.get("server") || (location.protocol.startsWith("http") ? location.origin : "");
  $("dev-form").addEventListener("submit", devSignIn);
  $("token-form").addEventListener("submit", tokenSignIn);
  $("new-conversation").addEventListener("submit", startConversation);
  $("search-form").addEventListener("submit", search);
  $("composer").addEventListener("submit", sendText);
  $("composer-input").addEventListener("input", onComposerInput);
  $("composer-input").addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter breaks the line: the usual chat keyboard.
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("file-input").addEventListener("change", sendFile);
  $("template-form").addEventListener("submit", saveTemplate);
  $("template-cancel").addEventListener("click", resetTemplateForm);
  $("analytics-open").addEventListener("click", showAnalytics);
  $("load-older").addEventListener("click", loadOlder);
  $("messages").addEventListener("scroll", () => { if ($("messages").scrollTop < 40) loadOlder(); });
  $("copy-id").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(state.me.id);
      notice(t("copied"));
    } catch {
      // No clipboard permission (plain http on another host): select the id for Ctrl+C instead.
      getSelection().selectAllChildren($("my-id"));
    }
  });
  document.addEventListener("visibilitychange", markVisibleRead);
}

init();
