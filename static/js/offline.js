// The offline page (templates/pwa/offline.html): the last score this browser saw, which
// static/js/credo.js keeps in localStorage whenever a page shows the member's score.
"use strict";
(function () {
  var box = document.querySelector("[data-offline-score]");
  if (!box) return;
  var last = null;
  try { last = JSON.parse(window.localStorage.getItem("credo:last-score") || "null"); } catch (e) { last = null; }
  if (!last || typeof last.score !== "number") return;
  box.querySelector("[data-score]").textContent = String(last.score);
  var band = box.querySelector("[data-band]");
  band.textContent = last.band || "";
  band.className = "badge band-" + String(last.band || "").toLowerCase().replace(/[^a-z0-9]+/g, "-");
  var at = new Date(last.at);
  if (!isNaN(at)) box.querySelector("[data-at]").textContent = "on " + at.toLocaleString();
  box.hidden = false;
  var none = document.querySelector("[data-offline-none]");
  if (none) none.hidden = true;
})();
