"""The org tree page (platform-admin, org-admin): the tree, its people, imports, bindings.

A folder because the job has three rooms: the tree and its nodes (:mod:`.tree`), one person
(:mod:`.people`) and bulk import (:mod:`.imports`); each reads ``/iam/…`` with the person's
own token, and the API's delegated administration decides what they see and change.
"""

from __future__ import annotations

from anbao.console.pages.orgs.imports import Import
from anbao.console.pages.orgs.people import PersonPage
from anbao.console.pages.orgs.tree import Children, OrgTree
from anbao.console.web import PREFIX, Console
from anbao.web.asgi_app import AsgiApp

__all__ = ["Children", "Import", "OrgTree", "PersonPage", "add_routes"]


def add_routes(app: AsgiApp, console: Console) -> None:
    app.add_route(PREFIX + "/orgs", OrgTree(console))
    app.add_route(PREFIX + "/orgs/import", Import(console))
    app.add_route(PREFIX + "/orgs/people/{person_id}", PersonPage(console))
    app.add_route(PREFIX + "/orgs/nodes/{node_id}/children", Children(console))
