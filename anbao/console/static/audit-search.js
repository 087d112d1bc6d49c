// Audit search: a click on a histogram bar narrows the search to that interval (as Kibana
// Discover does). The links are the server's (one per bar, in the hidden element named by the
// chart's data-zoom); the table under the chart holds the same links for keyboards and screen
// readers. Runs after console.js has drawn the chart (its listeners are registered first).
(function () {
  "use strict";

  function bind(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-chart][data-zoom]").forEach(function (el) {
      if (el.dataset.zoomReady) return;
      var chart = window.echarts.getInstanceByDom(el);
      var source = document.getElementById(el.dataset.zoom);
      if (!chart || !source) return;
      var links = JSON.parse(source.textContent);
      el.dataset.zoomReady = "1";
      // Anywhere in a bar's column counts, not only the bar itself (short bars are small).
      chart.getZr().on("click", function (event) {
        var point = [event.offsetX, event.offsetY];
        if (!chart.containPixel("grid", point)) return;
        var index = chart.convertFromPixel({ seriesIndex: 0 }, point)[0];
        var link = links[index];
        if (!link) return;
        var url = "/console/audit?" + link;
        if (window.htmx) {
          window.htmx.ajax("GET", url, { target: "#workspace", push: url });
        } else {
          window.location.href = url;
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:afterSwap", function (event) { bind(event.target); });
})();
