// The dashboard's live cards (score, progress, streak, perks, challenges, badges). Plain
// JavaScript, no build step.
//
// The member's own news arrives on the page's shared socket (static/js/live.js): "me.changed"
// (their score, badges or perks moved) re-fetches the cards from the server, which renders
// them exactly as on page load — one source of truth, no second copy of the templates in
// JavaScript. Bursts coalesce into one fetch; a reconnect re-fetches once, since news may have
// been missed while offline.
"use strict";
(function () {
  var region = document.getElementById("live-cards");
  var live = window.CredoLive;
  if (!region || !live) return;
  var url = region.getAttribute("data-refresh-url");
  var timer = null;
  var busy = false;
  var again = false;
  var opened = 0;
  var refreshed = 0;

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      // A session that expired answers with a redirect to the login page: keep the cards.
      .then(function (response) { return response.ok && !response.redirected ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        region.innerHTML = html;
        refreshed += 1;
        region.setAttribute("data-refreshed", String(refreshed));
      })
      .catch(function () { /* offline: the next news or reconnect fetches again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; soon(); }
      });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }

  // Only the member's own changes: challenge standings (static/js/challenges.js) and the bell
  // (static/js/notifications.js) patch their own parts in place, at no server cost.
  live.on("me.changed", soon);
  live.onOpen(function () { if (opened++) soon(); });
  live.start();
})();
