"""The book's Sphinx extension drops repeated scripts and keeps everything else in order."""

from sphinx.builders.html._assets import _JavaScript

from gancourse.book.sphinx_pages import unique_scripts


def test_repeated_inline_scripts_are_dropped_and_the_order_kept():
    thebe = _JavaScript(None, body='const THEBE_JS_URL = "x"')
    scripts = [_JavaScript("a.js"), thebe, _JavaScript("b.js", **{"async": "async"}), _JavaScript("", body='const THEBE_JS_URL = "x"'),
               _JavaScript("b.js")]
    kept = unique_scripts(scripts)
    assert [str(script) for script in kept] == [str(scripts[i]) for i in (0, 1, 2, 4)]
