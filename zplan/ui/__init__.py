"""`zplan ui`: a read-only web dashboard over a project's runs, step graphs, lineage, plans,
resources and outputs, read through ``zplan.api`` (Starlette + Jinja2, rendered on the server).

No JavaScript: graphs are laid out here in Python and drawn as inline SVG (``svg_dag``), so
pages need no vendored library, no build step and no network, and a static export
(``zplan ui -export DIR``) is the same HTML. Pipelines have tens of nodes; a layered layout
is enough. Importing this package needs the ``ui`` extra; nothing on the plan path imports it.
"""
