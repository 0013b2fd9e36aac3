// Progress bar of an import (templates/partners/imports/detail.html): polls
// the JSON endpoint named by data-import-progress-url and reloads the page
// when the preview or the import is done. No inline script (CSP).
(function () {
  "use strict";
  var box = document.querySelector("[data-import-progress-url]");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-import-progress-url");
  var bar = box.querySelector("[data-progress-bar]");
  var holder = box.querySelector("[role=progressbar]");
  var delay = 1000;

  function show(progress) {
    var percent = Math.round(progress * 100);
    bar.style.width = percent + "%";
    bar.textContent = percent + " %";
    holder.setAttribute("aria-valuenow", String(percent));
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (data) {
        show(data.progress);
        if (data.done) {
          window.location.reload();
          return;
        }
        delay = Math.min(delay * 1.2, 5000);
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }

  show(parseFloat(holder.getAttribute("aria-valuenow") || "0") / 100);
  window.setTimeout(poll, delay);
})();
