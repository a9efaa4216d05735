// Live status of a submission that is being graded: poll the small JSON endpoint and
// reload the page once grading has finished. Without JavaScript the page refreshes
// itself (<noscript> meta refresh) and has a Refresh link.
(function () {
  "use strict";
  var box = document.getElementById("status");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var delay = parseInt(box.getAttribute("data-poll-ms"), 10) || 1000;
  var shown = box.getAttribute("data-status");
  var started = Date.now();
  var words = {
    queued: "Queued: waiting for a grader. This page updates by itself.",
    running: "Running: your code is being graded. This page updates by itself."
  };

  function show(status) {
    if (status === shown || !words[status]) {
      return;
    }
    shown = status;
    box.className = "status-box status-" + status;
    var paragraph = box.querySelector("p");
    if (paragraph) {
      var parts = words[status].split(": ");
      paragraph.textContent = "";
      var strong = document.createElement("strong");
      strong.textContent = parts[0].charAt(0).toUpperCase() + parts[0].slice(1);
      paragraph.appendChild(strong);
      paragraph.appendChild(document.createTextNode(": " + parts.slice(1).join(": ")));
    }
  }

  function next() {
    // Every second for two minutes, then every five seconds.
    window.setTimeout(poll, Date.now() - started > 120000 ? 5000 : delay);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (data.done) {
          window.location.reload();
          return;
        }
        show(data.status);
        next();
      })
      .catch(next);
  }

  next();
})();
