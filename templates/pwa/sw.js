{% autoescape off %}// Credo's service worker (served at /sw.js by config.views.service_worker).
//
// It keeps the app's shell (stylesheet, scripts, icons) and the offline page. Static files are
// answered from the cache and refreshed behind (stale-while-revalidate). Pages always come from
// the network — they hold the member's data, which is never cached — and when the network fails
// the offline page answers instead: it shows the last score this browser saw.
"use strict";
var SETTINGS = {{ settings_json }};
var CACHE = "credo-shell-" + SETTINGS.version;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE)
      .then(function (cache) { return cache.addAll(SETTINGS.shell.concat([SETTINGS.offline])); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (keys) {
        return Promise.all(keys.filter(function (key) { return key.indexOf("credo-shell-") === 0 && key !== CACHE; })
          .map(function (key) { return caches.delete(key); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () { return caches.match(SETTINGS.offline); }));
    return;
  }
  if (url.pathname.indexOf(SETTINGS.static) === 0) {
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (cached) {
        var fresh = fetch(request).then(function (response) {
          if (response.ok) cache.put(request, response.clone());
          return response;
        });
        if (cached) { fresh.catch(function () {}); return cached; }
        return fresh;
      });
    }));
  }
});
{% endautoescape %}
