/*
 * Alibaba Mail security assistant: intranet web chat widget (vanilla JS, no framework).
 *
 * Embed with one tag (it loads its CSS and the socket.io client from the same server):
 *   <script src="https://<rasa-host>/webhooks/socketio/webchat/widget.js"
 *           data-server="https://<rasa-host>" async></script>
 *
 * Optional attributes: data-token (a JWT, when the server has a jwt_key), data-token-url
 * (a URL answering {"token": "..."} for the logged-in employee, fetched with cookies before
 * every (re)connection), data-title, data-open="true" (start opened), data-socket-path
 * (default /socket.io/).
 *
 * Talks Rasa's socket.io protocol: session_request/session_confirm, user_uttered/bot_uttered.
 * Every text is put in the page as text nodes (never innerHTML); only **bold**, line breaks,
 * numbered/bulleted lines and http(s) links are turned into elements, built with DOM APIs.
 *
 * What the browser keeps (localStorage, one key per server): the session id the server issued,
 * and the transcript with every secret masked by secrets.js (window.AlimailSecrets, the same rules
 * as the server's core/secrets.py; loaded from the same server before the widget starts, unless
 * the page loaded it first). Without it no transcript is kept at all. The conversation is deleted
 * from the browser when it has been idle longer than the server's WEBCHAT_HISTORY_MINUTES (from
 * config.js, window.AlimailWebchatServerConfig), on load and while the page stays open, and when
 * the user presses "Clear" (this conversation: the history and the session id; a new one starts).
 */
(function () {
  "use strict";
  if (window.AlimailWebchat) return;

  var script = document.currentScript ||
    document.querySelector('script[src*="/webchat/widget.js"]') ||
    document.querySelector('script[src*="widget.js"]');
  // Settings: the script tag's data-* attributes, or window.AlimailWebchatConfig set before it loads.
  var ds = Object.assign({}, (script && script.dataset) || {}, window.AlimailWebchatConfig || {});
  var assetBase = new URL(".", script ? script.src : location.href).href;
  var server = (ds.server || new URL(assetBase).origin).replace(/\/+$/, "");
  var socketPath = ds.socketPath || "/socket.io/";
  var title = ds.title || "Mail security assistant";
  var storageKey = "alimail-webchat:" + server;
  var MAX_TRANSCRIPT = 300;
  var TYPING_TIMEOUT_MS = 30000;
  var DEFAULT_HISTORY_MINUTES = 60;
  var EXPIRY_CHECK_MS = 15000;
  var CLOCK_SKEW_MS = 60000;

  // --- masking: nothing is kept that the server's rules call a secret --------------------------
  function mask(text) {
    var secrets = window.AlimailSecrets;
    return secrets && typeof secrets.maskSecrets === "function" ? secrets.maskSecrets(String(text)) : null;
  }
  function canMask() {
    return mask("") !== null;
  }
  // An entry as it is shown and kept: every text masked (raw only when masking is unavailable,
  // and then the transcript is never stored).
  function maskEntry(entry) {
    var m = canMask() ? mask : String;
    var kept = { from: entry.from === "user" ? "user" : "bot", text: m(entry.text || "") };
    if (Array.isArray(entry.buttons)) {
      kept.buttons = entry.buttons
        .filter(function (b) { return b && typeof b.title === "string"; })
        .map(function (b) {
          return { title: m(b.title), payload: m(typeof b.payload === "string" ? b.payload : b.title) };
        });
    }
    if (typeof entry.image === "string") kept.image = m(entry.image);
    return kept;
  }

  // --- state kept across reloads, for WEBCHAT_HISTORY_MINUTES -----------------------------------
  function historyMs() {
    var config = window.AlimailWebchatServerConfig || {};
    var minutes = Number(config.historyMinutes);
    if (!(minutes > 0)) minutes = DEFAULT_HISTORY_MINUTES;
    return minutes * 60000;
  }
  function expired(lastActive) {
    var age = Date.now() - Number(lastActive);
    return !(age >= -CLOCK_SKEW_MS && age <= historyMs()); // also a missing or invalid time
  }
  function freshState(open) {
    return { sessionId: null, transcript: [], open: !!open, lastActive: Date.now() };
  }
  function forget() {
    try {
      localStorage.removeItem(storageKey);
    } catch (e) { /* blocked storage: nothing kept */ }
  }
  function loadState() {
    var saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(storageKey) || "null");
    } catch (e) { /* unreadable or blocked storage: start afresh */ }
    if (!saved || typeof saved !== "object" || !Array.isArray(saved.transcript) || expired(saved.lastActive)) {
      forget(); // expired (or kept by an older widget, unmasked): deleted, not shown
      return freshState(saved && saved.open);
    }
    return {
      sessionId: typeof saved.sessionId === "string" ? saved.sessionId : null,
      // Masked again: the rules may have grown since it was kept.
      transcript: canMask()
        ? saved.transcript.filter(function (e) { return e && typeof e === "object"; }).map(maskEntry)
        : [],
      open: !!saved.open,
      lastActive: Number(saved.lastActive)
    };
  }
  function saveState() {
    try {
      state.transcript = state.transcript.slice(-MAX_TRANSCRIPT);
      localStorage.setItem(storageKey, JSON.stringify({
        sessionId: state.sessionId,
        transcript: canMask() ? state.transcript : [],
        open: state.open,
        lastActive: state.lastActive
      }));
    } catch (e) { /* storage full or blocked: the chat still works */ }
  }
  var state = freshState(false); // loaded in start(), once secrets.js and config.js are there

  // --- DOM helpers -------------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeHttpUrl(candidate) {
    try {
      var url = new URL(candidate);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(href, text) {
    var a = el("a", "amw-link", text);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  // Bare links end before trailing punctuation that belongs to the sentence.
  var INLINE = /\*\*([^*\n]+?)\*\*|\[([^\]\n]+)\]\((https?:\/\/[^\s()]+)\)|(https?:\/\/[^\s<>"']+)/g;

  function appendInline(parent, text, allowBold) {
    var re = new RegExp(INLINE.source, "g");
    var last = 0;
    var match;
    while ((match = re.exec(text)) !== null) {
      var whole = match[0];
      var end = match.index + whole.length;
      var node = null;
      if (match[1] !== undefined) {
        if (allowBold) {
          node = el("strong");
          appendInline(node, match[1], false);
        }
      } else if (match[2] !== undefined) {
        var href = safeHttpUrl(match[3]);
        if (href) node = link(href, match[2]);
      } else {
        var raw = match[4].replace(/[.,;:!?)\]]+$/, "");
        var url = safeHttpUrl(raw);
        if (url) {
          node = link(url, raw);
          end = match.index + raw.length;
        }
      }
      if (!node) continue; // left as text
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      parent.appendChild(node);
      last = end;
      re.lastIndex = end;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  var NUMBERED = /^\s*(\d{1,3})[.)]\s+(.*)$/;
  var BULLET = /^\s*[-*\u2022]\s+(.*)$/;
  var STEP = /^(Step \d+ of \d+:)\s*(.*)$/;

  // A message's text: lines (with <br>), numbered lines as an ordered list, "- " lines as a list.
  function renderText(container, text, rich) {
    var lines = String(text).split(/\r\n|\r|\n/);
    var list = null;
    var listKind = null;
    var needBreak = false;
    lines.forEach(function (line) {
      var numbered = rich && NUMBERED.exec(line);
      var bullet = rich && !numbered && BULLET.exec(line);
      if (numbered || bullet) {
        var kind = numbered ? "ol" : "ul";
        if (!list || listKind !== kind) {
          list = el(kind, "amw-list");
          listKind = kind;
          container.appendChild(list);
        }
        var item = el("li");
        if (numbered) item.value = parseInt(numbered[1], 10);
        appendInline(item, numbered ? numbered[2] : bullet[1], rich);
        list.appendChild(item);
        needBreak = false;
        return;
      }
      list = null;
      if (needBreak) container.appendChild(el("br"));
      var step = rich && STEP.exec(line);
      if (step) {
        container.appendChild(el("strong", "amw-step-label", step[1]));
        container.appendChild(document.createTextNode(" "));
        appendInline(container, step[2], rich);
      } else {
        appendInline(container, line, rich);
      }
      needBreak = true;
    });
  }

  // --- the widget's elements ---------------------------------------------------------------
  var root = el("div", "amw-root");
  root.setAttribute("data-testid", "webchat");
  var launcher = el("button", "amw-launcher", "Chat");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open the chat: " + title);
  var panel = el("section", "amw-panel");
  panel.setAttribute("aria-label", title);
  panel.hidden = true;
  var header = el("header", "amw-header");
  header.appendChild(el("span", "amw-title", title));
  var status = el("span", "amw-status", "connecting…");
  status.setAttribute("role", "status");
  header.appendChild(status);
  var clearButton = el("button", "amw-clear", "Clear");
  clearButton.type = "button";
  clearButton.title = "Clear this conversation: delete it from this browser and start a new one";
  clearButton.setAttribute("aria-label", "Clear this conversation");
  header.appendChild(clearButton);
  var closeButton = el("button", "amw-close", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "Close the chat");
  header.appendChild(closeButton);
  var log = el("div", "amw-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var typing = el("div", "amw-typing");
  typing.setAttribute("aria-label", "The assistant is typing");
  typing.appendChild(el("span"));
  typing.appendChild(el("span"));
  typing.appendChild(el("span"));
  typing.hidden = true;
  var form = el("form", "amw-form");
  var input = el("textarea", "amw-input");
  input.rows = 1;
  input.maxLength = 2000;
  input.placeholder = "Type your message…";
  input.setAttribute("aria-label", "Your message");
  var sendButton = el("button", "amw-send", "Send");
  sendButton.type = "submit";
  form.appendChild(input);
  form.appendChild(sendButton);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function disableOldButtons() {
    var groups = log.querySelectorAll(".amw-buttons");
    for (var i = 0; i < groups.length; i++) groups[i].parentNode.removeChild(groups[i]);
  }

  function renderEntry(entry, withButtons) {
    var bubble = el("div", "amw-msg amw-" + (entry.from === "user" ? "user" : "bot"));
    var body = el("div", "amw-text");
    renderText(body, entry.text || "", entry.from !== "user");
    bubble.appendChild(body);
    if (entry.image) {
      var href = safeHttpUrl(entry.image);
      if (href) {
        var img = el("img", "amw-image");
        img.src = href;
        img.alt = "";
        bubble.appendChild(img);
      }
    }
    log.appendChild(bubble);
    if (withButtons && entry.buttons && entry.buttons.length) {
      var group = el("div", "amw-buttons");
      entry.buttons.forEach(function (b) {
        var button = el("button", "amw-button", b.title);
        button.type = "button";
        button.addEventListener("click", function () {
          send(b.title, b.payload);
        });
        group.appendChild(button);
      });
      log.appendChild(group);
    }
    scrollDown();
  }

  function addEntry(entry) {
    if (entry.from === "user") disableOldButtons();
    var kept = maskEntry(entry); // shown as kept: a reload shows the same
    state.transcript.push(kept);
    state.lastActive = Date.now();
    saveState();
    renderEntry(kept, true);
  }

  function restoreTranscript() {
    var lastUser = -1;
    state.transcript.forEach(function (e, i) { if (e.from === "user") lastUser = i; });
    state.transcript.forEach(function (e, i) { renderEntry(e, i > lastUser); });
  }

  // --- typing indicator ----------------------------------------------------------------------
  var typingTimer = null;
  function showTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { typing.hidden = true; }, TYPING_TIMEOUT_MS);
    scrollDown();
  }

  // --- the connection ---------------------------------------------------------------------------
  var socket = null;
  var ready = false; // session confirmed on the current connection
  var queue = []; // messages typed while (re)connecting

  function setStatus(text, kind) {
    status.textContent = text;
    status.className = "amw-status" + (kind ? " amw-" + kind : "");
    root.setAttribute("data-state", kind || "");
  }

  function emitMessage(item) {
    var data = { message: item.payload, session_id: state.sessionId };
    socket.emit("user_uttered", data);
  }

  function send(shown, payload) {
    shown = String(shown || "").trim();
    payload = String(payload || shown);
    if (!shown) return;
    addEntry({ from: "user", text: shown });
    showTyping(true);
    var item = { payload: payload };
    if (ready) emitMessage(item);
    else queue.push(item);
  }

  function onBotMessage(data) {
    if (!data || typeof data !== "object") return;
    showTyping(false);
    var buttons = [];
    var choices = data.quick_replies || data.buttons ||
      (data.attachment && data.attachment.payload && data.attachment.payload.buttons) || [];
    if (Array.isArray(choices)) {
      choices.forEach(function (b) {
        if (b && typeof b.title === "string") {
          buttons.push({ title: b.title, payload: typeof b.payload === "string" ? b.payload : b.title });
        }
      });
    }
    var text = typeof data.text === "string" ? data.text : "";
    var image = data.attachment && data.attachment.type === "image" && data.attachment.payload &&
      typeof data.attachment.payload.src === "string" ? data.attachment.payload.src : null;
    if (!text && !buttons.length && !image) return;
    var entry = { from: "bot", text: text };
    if (buttons.length) entry.buttons = buttons;
    if (image) entry.image = image;
    addEntry(entry);
  }

  function fetchToken(cb) {
    if (ds.tokenUrl) {
      fetch(ds.tokenUrl, { credentials: "include" })
        .then(function (r) { return r.ok ? r.json() : {}; })
        .then(function (j) { cb({ token: (j && j.token) || "" }); })
        .catch(function () { cb({}); });
    } else {
      cb(ds.token ? { token: ds.token } : {});
    }
  }

  function connect() {
    socket = window.io(server, {
      path: socketPath,
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      auth: fetchToken
    });
    socket.on("connect", function () {
      ready = false;
      setStatus("connecting…", "connecting");
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("session_confirm", function (sessionId) {
      var confirmed = typeof sessionId === "string" ? sessionId : (sessionId && sessionId.session_id);
      if (!confirmed) return;
      if (state.sessionId && confirmed !== state.sessionId) {
        // Another conversation (e.g. the server decided from the identity token): start afresh.
        state.transcript = [];
        log.textContent = "";
      }
      state.sessionId = confirmed;
      saveState();
      ready = true;
      setStatus("online", "online");
      var pending = queue;
      queue = [];
      pending.forEach(emitMessage);
    });
    socket.on("bot_uttered", onBotMessage);
    socket.on("disconnect", function () {
      ready = false;
      setStatus("reconnecting…", "offline");
    });
    socket.on("connect_error", function () {
      setStatus(socket.active ? "reconnecting…" : "not signed in", "offline");
    });
  }

  // --- clearing: the button, the time limit, another tab's clearing ----------------------------------
  function clearConversation(note) {
    forget();
    state = freshState(state.open);
    queue = [];
    log.textContent = "";
    showTyping(false);
    if (note) log.appendChild(el("div", "amw-note", note));
    if (socket) {
      // A new connection asks for a new session; replies still on their way to the old one are not shown.
      ready = false;
      socket.disconnect();
      socket.connect();
    }
  }
  clearButton.addEventListener("click", function () {
    clearConversation("This conversation was deleted from this browser. A new one starts here.");
    input.focus();
  });
  function checkExpiry() {
    var lastActive = state.lastActive;
    try {
      // Another tab of the same conversation may have been active since.
      var saved = JSON.parse(localStorage.getItem(storageKey) || "null");
      if (saved && saved.sessionId === state.sessionId) {
        lastActive = Math.max(lastActive, Number(saved.lastActive) || 0);
      }
    } catch (e) { /* blocked storage: this tab's time */ }
    if ((state.transcript.length || state.sessionId) && expired(lastActive)) {
      clearConversation("This conversation was idle too long and was deleted from this browser.");
    }
  }
  window.addEventListener("storage", function (event) {
    if (event.key === storageKey && event.newValue === null && (state.transcript.length || state.sessionId)) {
      clearConversation("This conversation was deleted from this browser.");
    }
  });

  // --- opening, typing, sending ------------------------------------------------------------------
  function setOpen(open) {
    panel.hidden = !open;
    launcher.hidden = open;
    state.open = open;
    saveState();
    if (open) {
      scrollDown();
      input.focus();
    }
  }
  launcher.addEventListener("click", function () { setOpen(true); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    send(text, text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  function loadAsset(tag, attrs, onload, onerror) {
    var node = document.createElement(tag);
    Object.keys(attrs).forEach(function (k) { node[k] = attrs[k]; });
    if (onload) node.addEventListener("load", onload);
    if (onerror) node.addEventListener("error", onerror);
    (document.head || document.documentElement).appendChild(node);
  }

  var started = false;
  var waiting = []; // calls of the page's API before the start

  function start() {
    state = loadState();
    started = true;
    document.body.appendChild(root);
    restoreTranscript();
    setOpen(ds.open === "true" || ds.open === true || !!state.open);
    setInterval(checkExpiry, EXPIRY_CHECK_MS);
    waiting.forEach(function (call) { call(); });
    waiting = [];
    if (window.io) connect();
    else loadAsset("script", { src: assetBase + "socket.io.min.js", async: true }, connect);
  }

  // The masking rules and the server's settings first (nothing is stored before), then the page.
  function boot() {
    var pending = 1;
    function done() {
      if (--pending === 0) {
        if (document.body) start();
        else document.addEventListener("DOMContentLoaded", start);
      }
    }
    function need(present, file) {
      if (present) return;
      pending++;
      loadAsset("script", { src: assetBase + file, async: true }, done, done);
    }
    need(window.AlimailSecrets, "secrets.js");
    need(window.AlimailWebchatServerConfig, "config.js");
    done();
  }

  function whenStarted(fn) {
    return function () {
      var args = arguments;
      if (started) fn.apply(null, args);
      else waiting.push(function () { fn.apply(null, args); });
    };
  }

  loadAsset("link", { rel: "stylesheet", href: assetBase + "widget.css" });
  window.AlimailWebchat = {
    open: whenStarted(function () { setOpen(true); }),
    close: whenStarted(function () { setOpen(false); }),
    send: whenStarted(send),
    clear: whenStarted(function () { clearConversation(""); })
  };
  boot();
})();
