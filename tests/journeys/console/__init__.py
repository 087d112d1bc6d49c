"""Browser checks for the console (issue 19): axe-core accessibility, requests kept on the
origin, and the vendored scripts under the console's strict CSP."""
