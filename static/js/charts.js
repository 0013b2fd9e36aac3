/* Revenue charts. Data comes from <script type="application/json"> elements
   written by Django's json_script; a canvas names its data element with
   data-chart-source. No inline scripts, so a strict CSP is possible. */
(function () {
  "use strict";

  function formatter() {
    var lang = document.documentElement.lang || "en";
    return new Intl.NumberFormat(lang === "de" ? "de-DE" : "en-US", {
      style: "currency",
      currency: "USD",
      maximumFractionDigits: 2,
      minimumFractionDigits: 2
    });
  }

  function compact() {
    var lang = document.documentElement.lang || "en";
    return new Intl.NumberFormat(lang === "de" ? "de-DE" : "en-US", {
      notation: "compact",
      maximumFractionDigits: 1
    });
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chartSource);
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var money = formatter();
    var short = compact();
    var styles = getComputedStyle(document.documentElement);
    var primary = styles.getPropertyValue("--bs-primary").trim() || "#0d6efd";
    var values = data.values.map(Number);
    new Chart(canvas, {
      type: canvas.dataset.chartType || "bar",
      data: {
        labels: data.labels,
        datasets: [{
          label: data.label,
          data: values,
          backgroundColor: values.map(function (v) { return v < 0 ? "rgba(220,53,69,.7)" : primary; }),
          borderColor: primary,
          borderRadius: 3,
          maxBarThickness: 28
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) { return money.format(ctx.parsed.y); }
            }
          }
        },
        scales: {
          x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: {
            beginAtZero: true,
            ticks: { callback: function (v) { return "$" + short.format(v); } }
          }
        }
      }
    });
  }

  function init() {
    document.querySelectorAll("canvas[data-chart-source]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
