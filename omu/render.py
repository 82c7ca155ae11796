"""HTML pages from Jinja2 templates, with autoescape on.

Each package keeps its templates in a ``templates/`` folder beside its code; the shared skeleton
(doctype, head, meta tags) is ``omu/templates/base.html.j2``. Templates are read through
:class:`jinja2.PackageLoader`, so they are found the same way from a checkout and from an installed
wheel. Every value is escaped unless the caller marks it safe on purpose (:func:`safe`): plotly
fragments and sentences built with :meth:`markupsafe.Markup.format`, which escapes what it fills in.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, PrefixLoader, StrictUndefined
from markupsafe import Markup

BASE_PACKAGE = "omu"


@functools.cache
def environment(package: str) -> Environment:
    """Templates of ``package`` as ``<package>/<name>``, the shared ones as ``omu/<name>``."""
    loaders = {BASE_PACKAGE: PackageLoader(BASE_PACKAGE, "templates")}
    if package != BASE_PACKAGE:
        loaders[package] = PackageLoader(package, "templates")
    return Environment(
        loader=PrefixLoader(loaders),
        autoescape=True,  # every template here is HTML
        undefined=StrictUndefined,  # a misspelt name fails the page instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(package: str, template: str, **context: Any) -> str:
    """Render ``<package>/templates/<template>`` with ``context``."""
    return environment(package).get_template(f"{package}/{template}").render(**context)


def safe(fragment: str) -> Markup:
    """Mark HTML that omu made itself (a plotly figure, an already rendered section) as safe."""
    return Markup(fragment)
