// allocopt serve: keep the page live. Polls /api/state about once a second; when the version
// moves (new actuals, a new error, an error fixed) it fetches this same page and swaps in its
// <main id="live"> part. No data is evaluated as code: the HTML is parsed with DOMParser (which
// never runs scripts) and only nodes of the fetched page, escaped by the server, are inserted.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var status = document.getElementById("live-status");
  var text = document.getElementById("live-text");
  if (!live) { return; }
  var version = live.getAttribute("data-version");
  var busy = false;

  function setStatus(state, label) {
    if (status) { status.setAttribute("data-state", state); }
    if (text) { text.textContent = label; }
  }

  function refresh() {
    return fetch(window.location.pathname + window.location.search, {
      cache: "no-store", credentials: "same-origin", headers: { "Accept": "text/html" }
    }).then(function (r) {
      if (!r.ok && r.status !== 404) { throw new Error("HTTP " + r.status); }
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById("live");
      if (!fresh) { return; }
      var nodes = Array.prototype.map.call(fresh.childNodes, function (n) {
        return document.importNode(n, true);
      });
      live.replaceChildren.apply(live, nodes);
      version = fresh.getAttribute("data-version");
      live.setAttribute("data-version", version);
      var footer = document.getElementById("version");
      if (footer) { footer.textContent = version; }
    });
  }

  function tick() {
    if (busy) { return; }
    busy = true;
    fetch("/api/state", { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (s) {
        if (s.error) { setStatus("error", "live · actuals error"); }
        else { setStatus("live", "live · checked " + (s.checked_at || "").slice(11, 19)); }
        if (String(s.version) !== version) { return refresh(); }
      })
      .catch(function () { setStatus("offline", "offline · retrying"); })
      .then(function () { busy = false; });
  }

  window.setInterval(tick, 1000);
  tick();
})();
