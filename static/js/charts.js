/* Revenue charts. Data comes from <script type="application/json"> elements
   written by Django's json_script; a canvas names its data element with
   data-chart-source. No inline scripts, so a strict CSP is possible. */
(function () {
  "use strict";

  // Money the way the page's language writes it, as the server does
  // (portal_ui.usd): "USD 2,000" in English, "2.000 USD" in German.
  function locale() {
    return document.documentElement.lang || "en";
  }

  function formatter() {
    return new Intl.NumberFormat(locale(), {
      style: "currency",
      currency: "USD",
      currencyDisplay: "code",
      maximumFractionDigits: 2,
      minimumFractionDigits: 2
    });
  }

  // Axis ticks: no cents unless the steps need them; millions in the
  // language's short form ("USD 1.5M", "1,5 Mio. USD") once the axis
  // reaches them.
  function axisFormatters() {
    var options = {
      style: "currency",
      currency: "USD",
      currencyDisplay: "code",
      minimumFractionDigits: 0,
      maximumFractionDigits: 2
    };
    return {
      plain: new Intl.NumberFormat(locale(), options),
      compact: new Intl.NumberFormat(locale(), Object.assign({}, options, {
        notation: "compact",
        maximumFractionDigits: 1
      }))
    };
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chartSource);
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var money = formatter();
    var axis = axisFormatters();
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
            ticks: {
              callback: function (value, index, ticks) {
                var largest = Math.max.apply(null, ticks.map(function (t) { return Math.abs(t.value); }));
                return (largest >= 1e6 ? axis.compact : axis.plain).format(value);
              }
            }
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
