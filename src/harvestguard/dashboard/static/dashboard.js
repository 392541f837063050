// Progressive enhancement: the pages are complete without it; with it, each [data-source]
// block fetches its JSON, draws its charts with Plotly and, with data-refresh, redraws them and
// its [data-kpi] figures every few seconds. Hand-written: a dozen lines of fetch need no library.
(function () {
  "use strict";
  function draw(block) {
    return fetch(block.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
        return response.json();
      })
      .then(function (data) {
        block.querySelectorAll("[data-chart]").forEach(function (element) {
          var figure = data.charts[element.dataset.chart];
          if (!figure) { element.textContent = "No events yet."; return; }
          window.Plotly.react(element, figure.data, figure.layout, { displayModeBar: false, responsive: true })
            .then(function () { element.dataset.drawn = "1"; });
        });
        block.querySelectorAll("[data-kpi]").forEach(function (element) {
          var value = data.kpis && data.kpis[element.dataset.kpi];
          if (value !== undefined) {
            element.textContent = typeof value === "number" ? value.toLocaleString("en") : String(value);
          }
        });
        block.dataset.updated = new Date().toISOString();
      })
      .catch(function (error) { block.dataset.error = String(error); });
  }
  document.querySelectorAll("[data-source]").forEach(function (block) {
    draw(block);
    var seconds = Number(block.dataset.refresh || 0);
    if (seconds > 0) { window.setInterval(function () { draw(block); }, seconds * 1000); }
  });
})();
