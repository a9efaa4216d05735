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
  var first = parseInt(box.getAttribute("data-poll-ms"), 10) || 1000;
  var started = Date.now();
  var words = {
    queued: "Queued: waiting for a grader. This page updates by itself.",
    running: "Running: your code is being graded. This page updates by itself."
  };

  function describe(status, ahead) {
    if (status === "queued" && ahead > 0) {
      var what = ahead === 1 ? " submission" : " submissions";
      return "Queued: waiting for a grader (" + ahead + what + " ahead of yours). This page updates by itself.";
    }
    return words[status];
  }

  function show(status, ahead) {
    var text = describe(status, ahead);
    if (!text) {
      return;
    }
    box.className = "status-box status-" + status;
    box.setAttribute("data-status", status);
    var paragraph = box.querySelector("p");
    if (paragraph && paragraph.textContent !== text) {
      var parts = text.split(": ");
      paragraph.textContent = "";
      var strong = document.createElement("strong");
      strong.textContent = parts[0];
      paragraph.appendChild(strong);
      paragraph.appendChild(document.createTextNode(": " + parts.slice(1).join(": ")));
    }
  }

  function next(seconds) {
    // When the server expects the result (it knows the queue), else every second; after
    // two minutes, at most every five seconds.
    var wait = seconds > 0 ? seconds * 1000 : 1000;
    window.setTimeout(poll, Date.now() - started > 120000 ? Math.max(wait, 5000) : wait);
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
        show(data.status, data.ahead);
        next(data.retry_after);
      })
      .catch(function () {
        next();
      });
  }

  next(first / 1000);
})();
