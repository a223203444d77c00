// Draws every figure of the page: the data travel as JSON next to their <div class="plot">.
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll(".plot[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source || typeof Plotly === "undefined") { return; }
      var fig = JSON.parse(source.textContent);
      if (!fig.data || fig.data.length === 0) {
        el.textContent = "–";
        el.dataset.rendered = "empty";
        return;
      }
      Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false })
        .then(function () { el.dataset.rendered = "yes"; });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
