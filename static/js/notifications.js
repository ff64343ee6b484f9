// The notification bell: a live unread count and a small toast for each new notification.
// Listens on the page's shared socket (static/js/live.js); plain JavaScript, no build step.
//
// Server → client: {"type": "notification", "id", "kind", "text", "link", "created_at",
// "unread_count"}. Other scripts can react too: a "credo:notification" event is dispatched on
// document with the message as its detail.
"use strict";
(function () {
  var bell = document.querySelector("[data-bell]");
  var live = window.CredoLive;
  if (!bell || !live) return;
  var countEl = bell.querySelector(".bell-count");
  var toast = null;
  var toastTimer = null;

  function setCount(n) {
    n = Math.max(0, Number(n) || 0);
    bell.setAttribute("data-unread", String(n));
    bell.setAttribute("aria-label", "Notifications: " + n + " unread");
    countEl.textContent = String(n);
    countEl.hidden = n === 0;
  }

  function showToast(msg) {
    if (!toast) {
      toast = document.createElement("div");
      toast.className = "note-toast";
      toast.setAttribute("role", "status");
      toast.setAttribute("aria-live", "polite");
      toast.hidden = true;
      document.body.appendChild(toast);
    }
    toast.textContent = "";
    var node;
    if (msg.link) {
      node = document.createElement("a");
      node.href = msg.link;
    } else {
      node = document.createElement("span");
    }
    node.textContent = msg.text;  // text, never HTML
    toast.appendChild(node);
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toast.hidden = true; }, 6000);
  }

  live.on("notification", function (msg) {
    setCount(msg.unread_count);
    showToast(msg);
    document.dispatchEvent(new CustomEvent("credo:notification", { detail: msg }));
  });
  live.start();
})();
