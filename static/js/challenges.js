// Live challenge standings: the challenges page and the dashboard card. Plain JavaScript.
//
// The server pushes {"type": "challenge.standings", "challenge", "status", "ends_at",
// "standings": [{username, points, hidden, rank, is_winner, is_me}]} to every participant's sockets
// (points null and hidden true for someone whose points this member may not see)
// whenever a participant's points move, someone joins, or the challenge finishes or is
// cancelled. We listen on the page's shared socket (static/js/live.js, window.CredoLive); no
// subscription is needed (these messages carry no board). Each [data-challenge="<id>"] list
// is re-rendered from the message; a challenge the page does not show yet, or one whose status
// changed, raises a "reload" notice on the challenges page.
"use strict";
(function () {
  // Included from the dashboard card too, i.e. possibly before live.js runs: start once every
  // deferred script has (DOMContentLoaded), or now if CredoLive is already there.
  if (window.CredoLive) init(); else document.addEventListener("DOMContentLoaded", init);

  function init() {
    if (window.CredoChallenges) return;  // included twice on one page: listen once
    var page = document.getElementById("challenges");
    if (!page && !document.querySelector("[data-challenge]")) return;
    var live = window.CredoLive;
    if (!live) return;

    function render(list, msg) {
      list.innerHTML = "";
      msg.standings.forEach(function (s) {
        var li = document.createElement("li");
        li.className = "ch-row" + (s.is_me ? " me" : "") + (s.is_winner ? " winner" : "");
        li.setAttribute("data-username", s.username);
        var rank = document.createElement("span");
        rank.className = "ch-rank";
        rank.textContent = s.rank;
        var name = document.createElement("span");
        name.className = "ch-name";
        name.textContent = s.username;
        if (s.is_me) {
          var small = document.createElement("small");
          small.textContent = " (you)";
          name.appendChild(small);
        }
        if (s.is_winner) {
          var crown = document.createElement("span");
          crown.className = "ch-crown";
          crown.title = "Winner";
          crown.textContent = " \uD83C\uDFC6";
          name.appendChild(crown);
        }
        var points = document.createElement("span");
        points.className = "ch-points num";
        if (s.hidden) {
          var hidden = document.createElement("span");
          hidden.className = "hint";
          hidden.textContent = "hidden";
          points.appendChild(hidden);
        } else {
          points.textContent = (s.points > 0 ? "+" : "") + s.points;
        }
        li.appendChild(rank);
        li.appendChild(name);
        li.appendChild(points);
        list.appendChild(li);
      });
      list.classList.remove("ch-moved");
      void list.offsetWidth;  // restart the highlight
      list.classList.add("ch-moved");
    }

    function notice() {
      var el = page && page.querySelector(".ch-notice");
      if (el) el.hidden = false;
    }

    function onStandings(msg) {
      var lists = document.querySelectorAll('[data-challenge="' + String(msg.challenge).replace(/\D/g, "") + '"]');
      if (!lists.length) { notice(); return; }
      Array.prototype.forEach.call(lists, function (list) {
        var before = list.getAttribute("data-status");
        render(list, msg);
        list.setAttribute("data-status", msg.status);
        if (before && before !== msg.status) notice();
      });
    }

    var statusEl = page && page.querySelector(".ch-status");
    var LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", "logged-out": "Logged out" };
    if (statusEl) {
      live.onStatus(function (state, extra) {
        statusEl.setAttribute("data-state", state);
        statusEl.textContent = (LABELS[state] || state) + (extra || "");
      });
    }
    live.on("challenge.standings", onStandings);
    live.start();
    window.CredoChallenges = { apply: onStandings };
  }
})();
