// CredoLive: the page's ONE WebSocket to /ws/leaderboards/, shared by every script on the page
// (the leaderboard, the notification bell, live widgets). Plain JavaScript, no build step.
//
// The server sends each socket the member's own news ("notification", "challenge.standings",
// "me.changed") whatever boards it shows, so one socket serves them all; a second socket per
// page would double the server's consumers and the member's pushes for nothing.
//
//   CredoLive.on(type, fn)    fn(message) for each message of that type ("*": every message)
//   CredoLive.onOpen(fn)      fn() on every (re)connection, now if already open: (re)subscribe here
//   CredoLive.onStatus(fn)    fn(state, extra): connecting | live | reconnecting | logged-out
//   CredoLive.send(message)   sent if open (subscriptions are re-sent by onOpen handlers)
//   CredoLive.start(path?)    connect once (the first caller's path wins); later calls are no-ops
"use strict";
(function () {
  if (window.CredoLive) return;
  var path = "/ws/leaderboards/";
  var socket = null;
  var attempt = 0;
  var reconnectTimer = null;
  var started = false;
  var stopped = false;
  var state = "idle";
  var extra = "";
  var handlers = {};
  var openHandlers = [];
  var statusHandlers = [];

  function call(fn, args) {
    try { fn.apply(null, args); } catch (e) { if (window.console) console.error("CredoLive handler:", e); }
  }

  function setState(next, detail) {
    state = next;
    extra = detail || "";
    statusHandlers.forEach(function (fn) { call(fn, [state, extra]); });
  }

  function isOpen() { return !!socket && socket.readyState === WebSocket.OPEN; }

  function dispatch(event) {
    var msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (!msg || typeof msg.type !== "string") return;
    (handlers[msg.type] || []).concat(handlers["*"] || []).forEach(function (fn) { call(fn, [msg]); });
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (stopped) return;
    setState(attempt ? "reconnecting" : "connecting");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + path);
    socket.onopen = function () {
      attempt = 0;
      setState("live");
      openHandlers.forEach(function (fn) { call(fn, []); });
    };
    socket.onmessage = dispatch;
    socket.onclose = function (event) {
      socket = null;
      if (event.code === 4401 || event.code === 4403) {  // logged out, or a bad ticket: do not retry
        stopped = true;
        setState("logged-out", ": reload to log in again");
        return;
      }
      // Exponential backoff with jitter, capped at 30 s.
      attempt += 1;
      var delay = Math.min(30000, 1000 * Math.pow(2, attempt - 1)) * (0.5 + Math.random() / 2);
      setState("reconnecting", " in " + Math.ceil(delay / 1000) + " s");
      reconnectTimer = setTimeout(connect, delay);
    };
  }

  window.addEventListener("online", function () {
    if (started && !socket && !stopped) { attempt = 0; connect(); }
  });

  window.CredoLive = {
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    onOpen: function (fn) { openHandlers.push(fn); if (isOpen()) call(fn, []); },
    onStatus: function (fn) { statusHandlers.push(fn); if (state !== "idle") call(fn, [state, extra]); },
    send: function (message) { if (isOpen()) socket.send(JSON.stringify(message)); },
    start: function (wsPath) {
      if (started) return;
      started = true;
      if (wsPath) path = wsPath;
      connect();
    },
    isOpen: isOpen,
  };
})();
