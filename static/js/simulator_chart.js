/* Policy simulator: subjects by deadline outlook under the stored policy and
   the draft, side by side. Data from the json_script element named by the
   canvas's data-simulation-chart; no inline script (strict CSP). The same
   figures are in the table next to the chart. */
(function () {
  "use strict";

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.simulationChart);
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var styles = getComputedStyle(document.documentElement);
    var colours = [
      styles.getPropertyValue("--bs-secondary").trim() || "#6c757d",
      styles.getPropertyValue("--bs-primary").trim() || "#0d6efd"
    ];
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (set, i) {
          return {
            label: set.label,
            data: set.values.map(Number),
            backgroundColor: colours[i % colours.length],
            borderRadius: 3,
            maxBarThickness: 36
          };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { position: "bottom" } },
        scales: {
          x: { grid: { display: false } },
          y: { beginAtZero: true, ticks: { precision: 0 } }
        }
      }
    });
  }

  function init() {
    document.querySelectorAll("canvas[data-simulation-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
