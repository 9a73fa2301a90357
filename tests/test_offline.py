"""The offline MathJax: pinned checksum, only the needed parts, never half-extracted."""

import hashlib
import io
import tarfile

import pytest

from gancourse.book import offline


def fake_mathjax_tarball(path):
    files = {"package/es5/tex-mml-chtml.js": b"window.MathJax = {};",
             "package/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff": b"font",
             "package/es5/tex-svg-full.js": b"not needed", "package/README.md": b"readme"}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def test_a_tarball_with_the_pinned_checksum_is_unpacked_with_only_the_parts_the_pages_use(tmp_path, monkeypatch):
    tarball = tmp_path / "mathjax.tgz"
    monkeypatch.setattr(offline, "MATHJAX_SHA256", fake_mathjax_tarball(tarball))
    monkeypatch.setenv(offline.MATHJAX_TGZ_ENV, str(tarball))
    folder = offline.ensure_mathjax(tmp_path / "assets")
    assert (folder / "tex-mml-chtml.js").read_bytes() == b"window.MathJax = {};"
    assert (folder / "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff").exists()
    assert not (folder / "tex-svg-full.js").exists()
    assert not (tmp_path / "assets" / "mathjax.partial").exists()
    tarball.unlink()                                      # present: nothing is fetched again
    assert offline.ensure_mathjax(tmp_path / "assets") == folder


def test_a_tarball_with_another_checksum_is_refused(tmp_path, monkeypatch):
    tarball = tmp_path / "mathjax.tgz"
    fake_mathjax_tarball(tarball)
    monkeypatch.setenv(offline.MATHJAX_TGZ_ENV, str(tarball))
    with pytest.raises(RuntimeError, match="SHA-256 .* expected"):
        offline.ensure_mathjax(tmp_path / "assets")
    assert not (tmp_path / "assets" / "mathjax").exists()


def test_a_missing_local_tarball_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(offline.MATHJAX_TGZ_ENV, str(tmp_path / "nowhere.tgz"))
    with pytest.raises(FileNotFoundError, match="is not a file"):
        offline.ensure_mathjax(tmp_path / "assets")
