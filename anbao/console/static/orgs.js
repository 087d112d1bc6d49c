// The org tree page's own behaviour (CSP script-src 'self'): the import form's upload progress.
// <form data-upload-progress="PROGRESS-ID">: htmx reports the upload's bytes; the <progress>
// element shows them (the server's own work follows, under the "Working…" indicator).
(function () {
  "use strict";
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target.closest ? event.target.closest("form[data-upload-progress]") : null;
    if (!form || !event.detail || !event.detail.lengthComputable) return;
    var bar = document.getElementById(form.dataset.uploadProgress);
    if (!bar) return;
    bar.value = Math.round((100 * event.detail.loaded) / event.detail.total);
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.target.closest ? event.target.closest("form[data-upload-progress]") : null;
    var bar = form && document.getElementById(form.dataset.uploadProgress);
    if (bar) bar.removeAttribute("value");
  });
})();
