// Refreshes the parts of a page marked data-refresh (every data-every seconds) in place.
// The pages work without it: this only saves a reload while a sync runs or the overview is open.
(function () {
  "use strict";

  function busy(region) {
    var active = document.activeElement;
    return active && region.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function schedule(name, seconds) {
    window.setTimeout(function () { refresh(name); }, seconds * 1000);
  }

  function refresh(name) {
    var region = document.querySelector('[data-refresh="' + name + '"]');
    if (!region || !region.dataset.every) { return; }
    var every = Number(region.dataset.every);
    if (busy(region) || document.hidden) { schedule(name, every); return; }
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected && response.url.indexOf("/console/sign-in") !== -1) {
          window.location.assign(response.url);
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) { schedule(name, every * 2); return; }
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.querySelector('[data-refresh="' + name + '"]');
        if (!fresh) { return; }
        region.replaceWith(document.importNode(fresh, true));
        if (fresh.dataset.every) { schedule(name, Number(fresh.dataset.every)); }
      })
      .catch(function () { schedule(name, every * 2); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh][data-every]").forEach(function (region) {
      schedule(region.dataset.refresh, Number(region.dataset.every));
    });
  });
})();
