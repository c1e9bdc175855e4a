// The job page's live timeline: asks for the events after the last one shown and appends the
// server-rendered entries, until the job ends. Same origin only (the CSP allows nothing else);
// the entries are HTML the server escaped, never text built here.
(function () {
  "use strict";
  var timeline = document.getElementById("timeline");
  if (!timeline || !timeline.dataset.poll) {
    return;
  }
  var url = timeline.dataset.poll;
  var last = Number(timeline.dataset.last || "0");
  var every = 1000;

  function apply(data) {
    if (data.html && data.html.trim()) {
      timeline.insertAdjacentHTML("beforeend", data.html);
    }
    last = data.last;
    timeline.dataset.last = String(last);
    if (data.summary_html) {
      document.getElementById("summary").innerHTML = data.summary_html;
    }
    var status = document.getElementById("status");
    status.textContent = data.status;
    status.className = "status s-" + data.status;
    if (data.terminal) {
      var live = document.getElementById("live");
      if (live) {
        live.textContent = "The job has ended.";
      }
    }
    return data.terminal;
  }

  function poll() {
    fetch(url + "&after=" + last, {cache: "no-store", credentials: "same-origin"})
      .then(function (response) {
        if (response.status === 403) {
          // the link expired while the page was open: stop asking, say so
          var live = document.getElementById("live");
          if (live) {
            live.textContent = "This link has expired; ask for a new one to follow the job.";
          }
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (data !== null && !apply(data)) {
          window.setTimeout(poll, every);
        }
      })
      .catch(function () {
        window.setTimeout(poll, every * 5);
      });
  }

  window.setTimeout(poll, every);
})();
