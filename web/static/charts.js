// Draws the pages' charts with uPlot: on /me each scheme's score over time
// (#chart-data), on /console the population by grade as bars and the
// entries coming and going on each list (#console-data).
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent || "null") : null;
  }
  function width(box) { return Math.max(box.clientWidth, 260); }

  function scores(series) {
    (series || []).forEach(function (s) {
      var box = document.querySelector('.chart[data-scheme="' + s.scheme + '"]');
      if (!box) return;
      new uPlot({
        width: width(box), height: 140, legend: { show: false },
        scales: { x: { time: true } },
        series: [{}, { label: s.scheme, stroke: "#1f5fa8", width: 2, fill: "rgba(31,95,168,0.08)", paths: uPlot.paths.stepped({ align: 1 }) }],
        axes: [{}, { size: 50 }]
      }, [s.x, s.y], box);
    });
  }

  function grades(charts) {
    (charts || []).forEach(function (g) {
      var box = document.querySelector('.chart[data-grades="' + g.scheme + '"]');
      if (!box) return;
      var xs = g.grades.map(function (_, i) { return i; });
      new uPlot({
        width: width(box), height: 160, legend: { show: false },
        scales: { x: { time: false, range: [-0.5, xs.length - 0.5] } },
        series: [{}, { label: "subjects", fill: "rgba(31,95,168,0.6)", stroke: "#1f5fa8", paths: uPlot.paths.bars({ size: [0.6] }), points: { show: false } }],
        axes: [{ space: 10, incrs: [1], values: function (u, ticks) { return ticks.map(function (t) { return g.grades[t] === undefined ? "" : g.grades[t]; }); } }, { size: 60 }]
      }, [xs, g.subjects], box);
    });
  }

  function flows(charts) {
    (charts || []).forEach(function (f) {
      var box = document.querySelector('.chart[data-flow="' + f.list + '"]');
      if (!box) return;
      new uPlot({
        width: width(box), height: 160,
        scales: { x: { time: true } },
        series: [{}, { label: "entered", stroke: "#a8321f", width: 2 }, { label: "left", stroke: "#2f7d32", width: 2 }],
        axes: [{}, { size: 40 }]
      }, [f.x, f.entered, f.left], box);
    });
  }

  function draw() {
    if (typeof uPlot === "undefined") return;
    scores(data("chart-data"));
    var c = data("console-data");
    if (c) { grades(c.grades); flows(c.lists); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
