"""Bulk import of org nodes and people from CSV or XLSX: validate into findings, then apply.

Apart from the tree's use cases because a file is untrusted input of another shape (rows,
sheets, encodings) and applying thousands of rows needs resumable, bounded work of its own.
``service`` (the API's import, which may send invitations) is imported by module.
"""

from iam.orgs.imports.apply import Importer, ImportState, file_digest

__all__ = ["ImportState", "Importer", "file_digest"]
