"""The book's Sphinx extension drops repeated scripts and keeps everything else in order."""

from sphinx.builders.html._assets import _JavaScript

from gancourse.book.sphinx_pages import unique_scripts


def test_repeated_inline_scripts_are_dropped_and_the_order_kept():
    thebe = _JavaScript(None, body='const THEBE_JS_URL = "x"')
    scripts = [_JavaScript("a.js"), thebe, _JavaScript("b.js", **{"async": "async"}), _JavaScript("", body='const THEBE_JS_URL = "x"'),
               _JavaScript("b.js")]
    kept = unique_scripts(scripts)
    assert [str(script) for script in kept] == [str(scripts[i]) for i in (0, 1, 2, 4)]


def test_the_colab_button_of_a_chapter_opens_its_reader_edition():
    from gancourse.book.sphinx_pages import _fix_page, colab_edition_url

    executed = "https://colab.research.google.com/github/org/book/blob/main/book/chapters/05_stylegan.ipynb"
    assert colab_edition_url(executed) == "https://colab.research.google.com/github/org/book/blob/main/colab/05_stylegan.ipynb"
    other = "https://mybinder.org/v2/gh/org/book/main?urlpath=tree/book/chapters/05_stylegan.ipynb"
    assert colab_edition_url(other) == other
    context = {"default_mode": "dark",
               "header_buttons": [{"type": "group", "buttons": [{"type": "link", "url": executed}, {"url": other}]}]}
    _fix_page(None, "book/chapters/05_stylegan", "page.html", context, None)
    assert [button["url"] for button in context["header_buttons"][0]["buttons"]] == [colab_edition_url(executed), other]


def test_a_colab_link_to_a_file_the_repository_lacks_fails_the_build(tmp_path):
    import pytest

    from gancourse.book.build import check_colab_links
    from gancourse.book.layout import BookLayout

    layout = BookLayout(tmp_path)
    (layout.colab).mkdir()
    (layout.colab / "01_gan_basics.ipynb").write_text("{}")
    layout.html.mkdir(parents=True)
    link = "https://colab.research.google.com/github/org/book/blob/main/colab/{}.ipynb"
    (layout.html / "a.html").write_text(f'<a href="{link.format("01_gan_basics")}">Colab</a>')
    assert check_colab_links(layout) == 1
    (layout.html / "b.html").write_text(f'<a href="{link.format("02_wgan")}">Colab</a>')
    with pytest.raises(RuntimeError, match="b.html: its Colab button opens colab/02_wgan.ipynb"):
        check_colab_links(layout)
