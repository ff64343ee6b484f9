// The moderators' admin (templates/admin/base_site.html): a filter choice whose value is blank
// (a badge without a tier, say) is an empty link in Django's sidebar; give it a name.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("#changelist-filter li a").forEach(function (a) {
    if (!a.textContent.trim()) a.textContent = "(blank)";
  });
});
