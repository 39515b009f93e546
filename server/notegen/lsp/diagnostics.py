"""The protocol's diagnostics for what Sonic Pi would make of a document's arrays
(:mod:`notegen.lsp.array_checks` finds them)."""

from __future__ import annotations

from collections.abc import Iterable

from lsprotocol import types

from .array_checks import Finding, Position, check_arrays
from .documents import DocumentView

SOURCE = "notegen"
_ERROR, _WARNING = types.DiagnosticSeverity.Error, types.DiagnosticSeverity.Warning


def diagnose(view: DocumentView) -> list[types.Diagnostic]:
    """Every diagnostic for one document version (slow on big files: call off the loop)."""
    return as_diagnostics(check_arrays(view))


def as_diagnostics(findings: Iterable[Finding]) -> list[types.Diagnostic]:
    """``findings`` as the protocol's diagnostics, in their order."""
    return [_diagnostic(finding) for finding in findings]


def _range(start: Position, end: Position) -> types.Range:
    return types.Range(types.Position(*start), types.Position(*end))


def _diagnostic(finding: Finding) -> types.Diagnostic:
    related = None
    if finding.related is not None:
        where = finding.related
        location = types.Location(uri=where.uri, range=_range(where.start, where.end))
        related = [types.DiagnosticRelatedInformation(location=location, message=where.message)]
    return types.Diagnostic(
        range=_range(finding.start, finding.end),
        message=finding.message,
        severity=_WARNING if finding.warning else _ERROR,
        source=SOURCE,
        code=finding.code,
        related_information=related,
    )
