/* Tables wider than their box (.table-responsive) scroll sideways; a box
   that does is made a focusable, named region so that keyboard users can
   scroll it too (WCAG 2.1.1; axe's scrollable-region-focusable). Boxes that
   fit stay out of the tab order. Named by the card header above them, or
   the table's caption. No inline script (CSP). */
(function () {
  "use strict";

  function name(box) {
    var table = box.querySelector("table");
    var caption = table && table.querySelector("caption");
    if (caption) {
      return caption.textContent.trim();
    }
    var card = box.closest(".card");
    var header = card && card.querySelector(".card-header");
    return header ? header.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function mark() {
    document.querySelectorAll(".table-responsive").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        var label = name(box);
        if (label) {
          box.setAttribute("aria-label", label);
        }
        box.dataset.scrollRegion = "";
      } else if (!scrolls && box.dataset.scrollRegion !== undefined) {
        ["tabindex", "role", "aria-label", "data-scroll-region"].forEach(function (a) {
          box.removeAttribute(a);
        });
      }
    });
  }

  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(mark, 150);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mark);
  } else {
    mark();
  }
})();
