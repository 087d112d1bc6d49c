"""The Anbao web console at ``/console/`` (docs/console.md): the composition root's web face.

A backend-for-frontend (OAuth 2.0 for Browser-Based Applications): people sign in through the
realm as the confidential client ``anbao-console-web``; the tokens stay in the server's session
store and the browser holds only an HttpOnly cookie. Pages are server-rendered Jinja2 templates
with htmx for partial updates and Apache ECharts for charts, every asset served from this
origin under a strict Content-Security-Policy. Every page reads and changes the platform
through Anbao's own API, in process, with the person's token (:mod:`anbao.console.api`): the
console can never do what the API would refuse that person.
"""

__all__ = ["api", "assets", "auth", "i18n", "oidc", "routes", "sessions", "web"]
