// Draws each scheme's score over time with uPlot, from the JSON the page
// carries in #chart-data.
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("chart-data");
    if (!el || typeof uPlot === "undefined") return;
    var series = JSON.parse(el.textContent || "[]");
    series.forEach(function (s) {
      var box = document.querySelector('.chart[data-scheme="' + s.scheme + '"]');
      if (!box) return;
      var opts = {
        width: Math.max(box.clientWidth, 260),
        height: 140,
        legend: { show: false },
        scales: { x: { time: true } },
        series: [{}, { label: s.scheme, stroke: "#1f5fa8", width: 2, fill: "rgba(31,95,168,0.08)", paths: uPlot.paths.stepped({ align: 1 }) }],
        axes: [{}, { size: 50 }]
      };
      new uPlot(opts, [s.x, s.y], box);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
