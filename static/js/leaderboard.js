// The live leaderboard page: one WebSocket, three boards. Plain JavaScript, no build step.
//
// The socket is the page's shared one (static/js/live.js, window.CredoLive): the notification
// bell listens on it too.
//
// Protocol (DESIGN.md §8, leaderboards/live/protocol.py): we send {"type":"subscribe","board","batch":true}
// and {"type":"resync","board"}; the server sends "snapshot" (the whole board), "rank.batch" (the
// rows that moved in one tick: "deltas", each exactly a "rank.changed" message), "rank.changed"
// (one row moved; servers that predate batches) and "error". Each board's seq rises by one per
// snapshot and per delta: a gap means we missed something, so we ask for a resync.
"use strict";
(function () {
  var root = document.getElementById("leaderboard");
  var live = window.CredoLive;
  // A page of the board (?from=top, ?after=…) is a still picture: its links lead back to "me".
  if (!root || !live || root.hasAttribute("data-paged")) return;
  var WINDOW = Number(root.getAttribute("data-window")) || 25;
  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var list = root.querySelector(".lb-rows");
  var statusEl = root.querySelector(".lb-status");
  var toast = root.querySelector(".lb-toast");
  var summaryRank = root.querySelector(".lb-summary");
  var seasonEl = root.querySelector(".lb-season");
  var board = root.getAttribute("data-board");
  var path = root.getAttribute("data-ws-path");
  var seq = 0;
  var resyncing = false;  // a resync is on its way: ignore deltas until its snapshot
  var toastTimer = null;
  var LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline", "logged-out": "Logged out" };

  function setStatus(state, extra) {
    statusEl.setAttribute("data-state", state);
    statusEl.textContent = LABELS[state] + (extra || "");
    root.setAttribute("data-connection", state);
  }

  function slug(text) { return String(text || "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, ""); }

  function rowFor(entry) {
    var li = document.createElement("li");
    li.className = "lb-row" + (entry.is_me ? " me" : "");
    li.setAttribute("data-username", entry.username);
    li.innerHTML = '<span class="lb-rank"></span><span class="lb-name"></span><span class="badge"></span><span class="lb-score num"></span>';
    fill(li, entry);
    return li;
  }

  function fill(li, entry) {
    li.querySelector(".lb-rank").textContent = entry.rank;
    var name = li.querySelector(".lb-name");
    name.textContent = entry.username;
    if (entry.is_me) {
      var small = document.createElement("small");
      small.textContent = " (you)";
      name.appendChild(small);
    }
    var badge = li.querySelector(".badge");
    badge.className = "badge band-" + slug(entry.band);
    badge.textContent = entry.band || "";
    li.querySelector(".lb-score").textContent = entry.score;
    li.setAttribute("data-rank", entry.rank);
  }

  function setSummary(myRank, total) {
    var rankEl = summaryRank.querySelector(".lb-my-rank");
    var parts = summaryRank.childNodes;
    // Rebuild the summary line (keeps the season span).
    while (summaryRank.firstChild && summaryRank.firstChild !== seasonEl) summaryRank.removeChild(summaryRank.firstChild);
    var text = document.createElement("span");
    if (myRank) {
      text.innerHTML = 'You are <strong class="lb-my-rank"></strong> of <span class="lb-total"></span> ';
      text.querySelector(".lb-my-rank").textContent = "#" + myRank;
      text.querySelector(".lb-total").textContent = total;
    } else {
      text.textContent = board === "friends" ? "Your score is not on boards yet. " : "You are not on this board: opt in from Settings. ";
    }
    summaryRank.insertBefore(text, seasonEl);
    void rankEl; void parts;
  }

  function showSeason(season) {
    if (!season) { seasonEl.hidden = true; return; }
    seasonEl.hidden = false;
    seasonEl.setAttribute("data-ends-at", season.ends_at);
    tickSeason();
  }

  function tickSeason() {
    var endsAt = seasonEl.getAttribute("data-ends-at");
    if (!endsAt || seasonEl.hidden) return;
    var left = Math.max(0, Math.floor((Date.parse(endsAt) - Date.now()) / 1000));
    var d = Math.floor(left / 86400), h = Math.floor((left % 86400) / 3600), m = Math.floor((left % 3600) / 60);
    seasonEl.textContent = "· season ends in " + (d ? d + "d " : "") + h + "h " + m + "m";
  }

  // FLIP: remember where rows were, reorder, then animate them from there to their new place.
  function reorder(mutate) {
    var before = {};
    Array.prototype.forEach.call(list.children, function (li) { before[li.getAttribute("data-username")] = li.getBoundingClientRect().top; });
    mutate();
    var rows = Array.prototype.slice.call(list.querySelectorAll(".lb-row"));
    rows.sort(function (a, b) { return Number(a.getAttribute("data-rank")) - Number(b.getAttribute("data-rank")); });
    rows.forEach(function (li) { list.appendChild(li); });
    showWindow();
    if (reducedMotion) return;
    rows.forEach(function (li) {
      var old = before[li.getAttribute("data-username")];
      if (old === undefined) { li.classList.add("lb-enter"); setTimeout(function () { li.classList.remove("lb-enter"); }, 700); return; }
      var delta = old - li.getBoundingClientRect().top;
      if (!delta) return;
      li.style.transition = "none";
      li.style.transform = "translateY(" + delta + "px)";
      requestAnimationFrame(function () {
        li.style.transition = "";
        li.style.transform = "";
      });
    });
  }

  function render(entries) {
    list.innerHTML = "";
    if (!entries.length) {
      var empty = document.createElement("li");
      empty.className = "lb-empty hint";
      empty.textContent = "Nobody here yet.";
      list.appendChild(empty);
      return;
    }
    entries.forEach(function (e) { list.appendChild(rowFor(e)); });
    showWindow();
  }

  // A friends board arrives whole: show the WINDOW rows around me (the page's links lead to the
  // top and further down), as the global and weekly boards do.
  function showWindow() {
    var rows = Array.prototype.slice.call(list.querySelectorAll(".lb-row"));
    var mine = rows.findIndex(function (li) { return li.classList.contains("me"); });
    var start = mine < 0 ? 0 : Math.max(0, Math.min(mine - Math.floor((WINDOW - 1) / 2), rows.length - WINDOW));
    rows.forEach(function (li, i) { li.hidden = i < start || i >= start + WINDOW; });
  }

  function flash(li, up) {
    if (reducedMotion) return;
    li.classList.remove("lb-up", "lb-down");
    void li.offsetWidth;  // restart the animation
    li.classList.add(up ? "lb-up" : "lb-down");
    setTimeout(function () { li.classList.remove("lb-up", "lb-down"); }, 1500);
  }

  function showToast(text) {
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toast.hidden = true; }, 5000);
  }

  // One moved row, inside reorder(): update, add or remove it, and flash it.
  function applyRow(msg) {
    var li = list.querySelector('.lb-row[data-username="' + CSS.escape(msg.username) + '"]');
    if (msg.new_rank === null) { if (li) li.remove(); return; }
    var entry = { rank: msg.new_rank, username: msg.username, score: msg.new_score, band: msg.band, is_me: msg.is_me };
    if (!li) {
      var empty = list.querySelector(".lb-empty");
      if (empty) empty.remove();
      li = rowFor(entry);
      list.appendChild(li);
    } else {
      fill(li, entry);
    }
    if (msg.old_rank !== null && msg.new_rank !== msg.old_rank) flash(li, msg.new_rank < msg.old_rank);
    else if (msg.old_score !== null && msg.new_score !== msg.old_score) flash(li, msg.new_score > msg.old_score);
  }

  // The rows of one frame (rank.changed: one; rank.batch: its deltas, in order) move together:
  // one FLIP animation, then the summary and "passed by" toast of my own row (the last one wins).
  function onRankChanged(deltas) {
    reorder(function () { deltas.forEach(applyRow); });
    deltas.forEach(function (msg) {
      if (!msg.is_me) return;
      var total = list.querySelectorAll(".lb-row").length;
      var totalEl = summaryRank.querySelector(".lb-total");
      setSummary(msg.new_rank, totalEl ? totalEl.textContent : total);
      if (msg.passed_by && msg.passed_by.length) {
        showToast("You were passed by " + msg.passed_by.join(", ") + ": now #" + msg.new_rank + ".");
      }
    });
  }

  // Deltas in seq order: apply those that follow on; at a gap, apply what came before it and ask
  // for the whole board (our copy may be wrong from there on).
  function onDeltas(deltas) {
    if (resyncing) return;
    var fresh = [];
    for (var i = 0; i < deltas.length; i++) {
      if (deltas[i].seq !== seq + 1) {
        resyncing = true;
        send({ type: "resync", board: board });
        break;
      }
      seq = deltas[i].seq;
      fresh.push(deltas[i]);
    }
    root.setAttribute("data-seq", seq);
    if (fresh.length) onRankChanged(fresh);
  }

  function send(message) { live.send(message); }

  function onMessage(msg) {
    if (msg.type === "error") { if (window.console) console.warn("leaderboard:", msg.code, msg.detail); return; }
    if (msg.board !== board) return;
    if (msg.type === "snapshot") {
      seq = msg.seq;
      resyncing = false;
      render(msg.entries);
      setSummary(msg.my_rank, msg.total);
      showSeason(msg.season);
      root.setAttribute("data-seq", seq);
      return;
    }
    if (msg.type === "rank.batch") onDeltas(msg.deltas);
    else if (msg.type === "rank.changed") onDeltas([msg]);
  }

  live.onStatus(function (state, extra) { if (LABELS[state]) setStatus(state, extra); });
  function subscribe() {
    seq = 0;
    resyncing = false;
    send({ type: "subscribe", board: board, batch: true });
  }

  live.onOpen(subscribe);
  live.on("*", onMessage);

  root.querySelector(".lb-tabs").addEventListener("click", function (event) {
    var tab = event.target.closest("[data-tab]");
    if (!tab) return;
    event.preventDefault();
    var next = tab.getAttribute("data-tab");
    if (next === board) return;
    send({ type: "unsubscribe", board: board });
    board = next;
    root.setAttribute("data-board", board);
    Array.prototype.forEach.call(root.querySelectorAll("[data-tab]"), function (t) {
      t.setAttribute("aria-selected", t === tab ? "true" : "false");
    });
    if (history.replaceState) history.replaceState(null, "", "?board=" + board);
    var pager = root.querySelector(".lb-pager");
    if (pager) {  // the old board's cursor means nothing on this one: offer its top
      pager.innerHTML = "";
      var top = document.createElement("a");
      top.className = "button ghost";
      top.href = "?board=" + encodeURIComponent(board) + "&from=top";
      top.textContent = "Top of the board";
      pager.appendChild(top);
    }
    subscribe();
  });

  setInterval(tickSeason, 30000);
  tickSeason();
  live.start(path);
})();
