/* Deadline outlook charts (PRODUCT 4.9): the TTM as it will stand on each day
   until the deadline - from booked revenue alone, at the current pace - and
   the threshold. A canvas names its data element (written by Django's
   json_script) with data-outlook-chart; no inline scripts, so a strict CSP
   is possible.

   Readable without colour: each line has its own dash pattern (solid,
   dashed, dotted) and end marker (circle, triangle, square), the legend
   draws the patterns, and the last value of each line is written next to
   it. The page has the same series as a table for screen readers. */
(function () {
  "use strict";

  var STYLES = {
    booked: { color: "#0b5ed7", dash: [], width: 3, marker: "circle" },
    projected: { color: "#9a4a00", dash: [9, 5], width: 2.5, marker: "triangle" },
    threshold: { color: "#212529", dash: [2, 4], width: 2, marker: "rect" }
  };

  function locale() {
    return document.documentElement.lang || "en";
  }

  // Money the way the page's language writes it, as the server does:
  // "USD 2,000.00" in English, "2.000,00 USD" in German.
  function money(digits) {
    return new Intl.NumberFormat(locale(), {
      style: "currency",
      currency: "USD",
      currencyDisplay: "code",
      minimumFractionDigits: digits,
      maximumFractionDigits: 2
    });
  }

  function dataset(key, data, values) {
    var style = STYLES[key];
    var last = values.length - 1;
    return {
      key: key,
      label: data.names[key],
      data: values,
      borderColor: style.color,
      backgroundColor: style.color,
      borderDash: style.dash,
      borderWidth: style.width,
      // a day's TTM holds until the next day: revenue rolls off in steps
      stepped: key === "threshold" ? false : "after",
      fill: false,
      pointStyle: style.marker,
      // only the deadline's point is marked (the direct label sits there)
      pointRadius: values.map(function (_v, i) { return i === last ? 5 : 0; }),
      pointHoverRadius: 5,
      pointHitRadius: 6
    };
  }

  function narrow(chart) {
    return chart.width < 480;
  }

  // Writes each line's last value to the right of its end marker, moving
  // labels apart when two ends are close.
  var endLabels = {
    id: "outlookEndLabels",
    afterDatasetsDraw: function (chart, _args, options) {
      if (narrow(chart)) {
        return;
      }
      var ctx = chart.ctx;
      var format = options.format;
      var placed = [];
      chart.data.datasets.forEach(function (ds, index) {
        var meta = chart.getDatasetMeta(index);
        if (meta.hidden || !meta.data.length) {
          return;
        }
        var point = meta.data[meta.data.length - 1];
        var y = point.y;
        placed.forEach(function (other) {
          if (Math.abs(other - y) < 14) {
            y = other + (y >= other ? 14 : -14);
          }
        });
        placed.push(y);
        ctx.save();
        ctx.font = "600 12px system-ui, sans-serif";
        ctx.fillStyle = ds.borderColor;
        ctx.textBaseline = "middle";
        ctx.textAlign = "left";
        ctx.fillText(format.format(ds.data[ds.data.length - 1]), point.x + 9, y);
        ctx.restore();
      });
    }
  };

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.outlookChart);
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var booked = data.booked.map(Number);
    var projected = data.projected.map(Number);
    var threshold = booked.map(function () { return Number(data.threshold); });
    var cents = money(2);
    var whole = money(0);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          dataset("booked", data, booked),
          dataset("projected", data, projected),
          dataset("threshold", data, threshold)
        ]
      },
      plugins: [endLabels],
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        // room for the end labels ("USD 1,000,000.00", "1.000.000,00 USD");
        // a phone's narrow chart keeps its width for the lines (the legend
        // and the table still give the figures)
        layout: {
          padding: function (context) {
            return { right: narrow(context.chart) ? 8 : 118, top: 8 };
          }
        },
        plugins: {
          outlookEndLabels: { format: cents },
          legend: {
            position: "bottom",
            labels: {
              usePointStyle: true,
              // the legend shows each line's pattern, not only its colour
              generateLabels: function (chart) {
                return chart.data.datasets.map(function (ds, index) {
                  return {
                    text: ds.label,
                    datasetIndex: index,
                    hidden: !chart.isDatasetVisible(index),
                    strokeStyle: ds.borderColor,
                    fillStyle: ds.borderColor,
                    fontColor: "#212529",
                    lineWidth: ds.borderWidth,
                    lineDash: ds.borderDash,
                    pointStyle: "line"
                  };
                });
              },
              pointStyleWidth: 40,
              boxHeight: 10,
              padding: 16
            }
          },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                return ctx.dataset.label + ": " + cents.format(ctx.parsed.y);
              }
            }
          }
        },
        scales: {
          x: {
            grid: { display: false },
            ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 7, color: "#495057" }
          },
          y: {
            beginAtZero: true,
            ticks: {
              color: "#495057",
              callback: function (value) { return whole.format(value); }
            }
          }
        }
      }
    });
  }

  function init() {
    document.querySelectorAll("canvas[data-outlook-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
