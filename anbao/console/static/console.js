// The console's own behaviour, loaded from this origin (CSP script-src 'self'): no inline
// script anywhere. Pages declare what they need with data- attributes; this file wires them up,
// again after every htmx swap.
(function () {
  "use strict";

  // Charts: <div data-chart="ID"> with <script type="application/json" id="ID"> holding an
  // ECharts option (data blocks are not executed, so CSP allows them).
  function charts(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.ready) return;
      var source = document.getElementById(el.dataset.chart);
      if (!source) return;
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(source.textContent));
      el.dataset.ready = "1";
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  // <form data-confirm="Are you sure?">: ask before sending.
  function confirms(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.ready) return;
      form.dataset.ready = "1";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  // <button data-copy="ELEMENT-ID">: copy that element's text; the button says so.
  function copies(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (button.dataset.ready) return;
      button.dataset.ready = "1";
      button.addEventListener("click", function () {
        var target = document.getElementById(button.dataset.copy);
        if (!target) return;
        var text = target.value !== undefined ? target.value : target.textContent;
        var done = function () { button.textContent = button.dataset.copied || "✓"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { select(target); });
        } else {
          select(target);
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  function select(target) {
    var range = document.createRange();
    range.selectNodeContents(target);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // <input type="checkbox" data-check-all="NAME">: ticks every checkbox named NAME.
  function checkAll(root) {
    root.querySelectorAll("[data-check-all]").forEach(function (box) {
      if (box.dataset.ready) return;
      box.dataset.ready = "1";
      box.addEventListener("change", function () {
        document.querySelectorAll('input[type=checkbox][name="' + box.dataset.checkAll + '"]')
          .forEach(function (other) { other.checked = box.checked; });
      });
    });
  }

  // <a data-download data-progress="ELEMENT-ID" href=...>: fetch with progress shown in the
  // <progress>/<output> element, then save the file under the server's name.
  function downloads(root) {
    root.querySelectorAll("a[data-download]").forEach(function (link) {
      if (link.dataset.ready) return;
      link.dataset.ready = "1";
      link.addEventListener("click", function (event) {
        if (!window.fetch || !window.ReadableStream) return;
        event.preventDefault();
        var status = document.getElementById(link.dataset.progress);
        fetch(link.href, { credentials: "same-origin" }).then(function (answer) {
          if (!answer.ok) throw new Error(answer.status + " " + answer.statusText);
          var reader = answer.body.getReader(), chunks = [], received = 0;
          var total = Number(answer.headers.get("X-Total-Count") || 0);
          function pump() {
            return reader.read().then(function (step) {
              if (step.done) return;
              chunks.push(step.value);
              received += step.value.length;
              if (status) {
                var lines = 0;
                status.dataset.bytes = received;
                status.textContent = (status.dataset.label || "") + " " + Math.round(received / 1024) + " KiB" +
                  (total ? " / " + total : "");
              }
              return pump();
            });
          }
          return pump().then(function () {
            var name = (answer.headers.get("Content-Disposition") || "").split("filename=")[1] || "export";
            var url = URL.createObjectURL(new Blob(chunks, { type: answer.headers.get("Content-Type") || "" }));
            var a = document.createElement("a");
            a.href = url;
            a.download = name.replace(/"/g, "");
            document.body.appendChild(a);
            a.click();
            a.remove();
            setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
            if (status) status.textContent = (status.dataset.doneLabel || "✓") + " " + Math.round(received / 1024) + " KiB";
          });
        }).catch(function (error) {
          if (status) status.textContent = String(error);
        });
      });
    });
  }

  // <input type="file" data-preview="IMG-ID" data-preview-status="ID">: show the chosen
  // picture in that <img> before anything is sent (a blob: URL; CSP img-src allows it), and
  // say which file it is in the status element.
  function previews(root) {
    root.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
      if (input.dataset.ready) return;
      input.dataset.ready = "1";
      var url = null;
      input.addEventListener("change", function () {
        var img = document.getElementById(input.dataset.preview);
        var status = document.getElementById(input.dataset.previewStatus || "");
        var file = input.files && input.files[0];
        if (url) URL.revokeObjectURL(url);
        url = null;
        if (!img) return;
        if (!file) {
          img.hidden = true;
          img.removeAttribute("src");
          return;
        }
        url = URL.createObjectURL(file);
        img.src = url;
        img.hidden = false;
        if (status) {
          status.textContent = (img.dataset.chosenLabel || "") + " " + file.name + " (" +
            Math.max(1, Math.round(file.size / 1024)) + " KiB)";
        }
      });
    });
  }

  function wire(root) {
    charts(root);
    confirms(root);
    copies(root);
    checkAll(root);
    downloads(root);
    previews(root);
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSwap", function (event) { wire(event.target); });
  window.anbaoConsole = { wire: wire };
})();
