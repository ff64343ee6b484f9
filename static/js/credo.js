// Credo's small shared helpers for the server-rendered pages. Plain JavaScript, no build step.
"use strict";
(function () {
  // Copy-to-clipboard buttons: <button data-copy="#selector">Copy</button>.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    navigator.clipboard.writeText(text).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });

  // The last score this browser saw, for the offline page (static/js/offline.js). Logging out
  // forgets it: a shared phone keeps nothing of the member.
  var scoreEl = document.querySelector("[data-last-score]");
  if (scoreEl) {
    try {
      window.localStorage.setItem("credo:last-score", JSON.stringify({
        score: Number(scoreEl.getAttribute("data-last-score")), band: scoreEl.getAttribute("data-band"),
        at: new Date().toISOString()
      }));
    } catch (e) { /* storage full or disabled: the offline page says it has no score */ }
  }
  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches("form[data-logout]")) {
      try { window.localStorage.removeItem("credo:last-score"); } catch (e) { /* nothing kept */ }
    }
  });

  // The service worker: the app's shell offline and the offline page (served at /sw.js).
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js").catch(function () { /* no offline page, nothing else lost */ });
    });
  }
})();
