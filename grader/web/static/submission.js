// Live status of a submission that is being graded: poll the small JSON endpoint and
// reload the page once grading has finished. Without JavaScript the page refreshes
// itself (<noscript> meta refresh) and has a Refresh link.
// While the server is briefly unavailable (503, 429, no connection) it asks again when the
// server's Retry-After says, else with growing pauses; after GIVE_UP_MS of nothing but
// failures it stops and says so (the Refresh link still works).
(function () {
  "use strict";
  var box = document.getElementById("status");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var first = parseInt(box.getAttribute("data-poll-ms"), 10) || 1000;
  var started = Date.now();
  var GIVE_UP_MS = 5 * 60 * 1000;
  var MAX_BACKOFF_MS = 30000;
  var failingSince = null;
  var failures = 0;
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

  function giveUp(text) {
    var paragraph = box.querySelector("p");
    if (paragraph) {
      paragraph.textContent = text;
    }
    box.setAttribute("data-status", "unknown");
  }

  function retryLater(retryAfter) {
    // Retry-After (seconds) when the server gave one, else 1, 2, 4 … 30 s; bounded in all.
    var now = Date.now();
    failingSince = failingSince === null ? now : failingSince;
    failures += 1;
    if (now - failingSince > GIVE_UP_MS) {
      giveUp("The server has not answered for a few minutes. Reload this page to see your result.");
      return;
    }
    var seconds = parseInt(retryAfter, 10);
    var wait = seconds > 0 ? seconds * 1000 : Math.min(1000 * Math.pow(2, failures - 1), MAX_BACKOFF_MS);
    window.setTimeout(poll, Math.min(wait, MAX_BACKOFF_MS));
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (response.status === 503 || response.status === 429 || response.status === 502 || response.status === 504) {
          retryLater(response.headers.get("Retry-After"));
          return null;
        }
        if (!response.ok) {
          // Signed out, or the submission is gone: polling again will not help.
          giveUp("This page could not be updated (HTTP " + response.status + "). Reload it to see your result.");
          return null;
        }
        return response.json().then(function (data) {
          failingSince = null;
          failures = 0;
          if (data.done) {
            window.location.reload();
            return;
          }
          show(data.status, data.ahead);
          next(data.retry_after);
        });
      })
      .catch(function () {
        retryLater(null); // no connection, or a body that was not JSON
      });
  }

  next(first / 1000);
})();
